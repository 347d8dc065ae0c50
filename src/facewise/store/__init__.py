"""Storage behind small protocols: collections, faces and users in SQLite (embedded) and a
per-collection vector index that can always be rebuilt from it."""
