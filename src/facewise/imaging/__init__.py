"""Decoding untrusted image bytes into RGB arrays, and the geometry done on them."""
