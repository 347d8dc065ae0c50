"""Detect → align → embed → attributes on typed dataclasses, plus similarity calibration."""
