"""facewise: self-hosted face detection, comparison and search.

The library API is a handful of verbs over plain data::

    import facewise
    result = facewise.detect_faces("photo.jpg", attributes="ALL")
    match = facewise.compare_faces("me.jpg", "group.jpg", similarity_threshold=90)
    with facewise.FaceCollections.open("facewise-data") as faces:   # collections and search
        faces.create_collection("staff")

Importing facewise loads no model and reads no environment; models load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CompareFacesResult",
    "DetectFacesResult",
    "FaceAnalysis",
    "FaceCollections",
    "FacewiseError",
    "__version__",
    "compare_faces",
    "detect_faces",
]

_LAZY = {
    "detect_faces": "facewise.service.faces",
    "compare_faces": "facewise.service.faces",
    "DetectFacesResult": "facewise.types",
    "FaceCollections": "facewise.service.collections",
    "CompareFacesResult": "facewise.types",
    "FaceAnalysis": "facewise.types",
    "FacewiseError": "facewise.errors",
}

if TYPE_CHECKING:
    from facewise.errors import FacewiseError
    from facewise.service.collections import FaceCollections
    from facewise.service.faces import compare_faces, detect_faces
    from facewise.types import CompareFacesResult, DetectFacesResult, FaceAnalysis


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'facewise' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
