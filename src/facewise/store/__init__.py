"""Storage behind small protocols, opened by URL (``open_store``): collections, faces, users
and keys in SQLite (embedded), and per-collection vector indexes rebuilt from them."""

from facewise.store.backends import OpenedStore, open_store

__all__ = ["OpenedStore", "open_store"]
