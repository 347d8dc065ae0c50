"""The operations users call (detect, compare; later collections, search, video), in plain
Python with snake_case names. No HTTP words here."""
