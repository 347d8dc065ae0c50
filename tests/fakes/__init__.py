"""Small fakes of facewise's interfaces for fast unit tests, beside the real components."""
