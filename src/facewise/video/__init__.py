"""Video: decoding with PyAV under limits, frame sampling, face tracking across frames and
the rule that names a track. No storage and no HTTP: the service runs these in jobs."""
