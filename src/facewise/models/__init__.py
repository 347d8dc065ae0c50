"""One small class per model (detector, landmarks, embedder, age, gender) and the registry
of their manifests. Nothing here loads a model until it is first used."""
