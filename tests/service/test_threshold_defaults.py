"""Rekognition's default thresholds (80, and 75 for AssociateFaces) are written once, in
service/identify.py: the API and the CLI pass "not given" and the service applies them."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "facewise"
DEFAULTS = {80, 75}


def _is_default(node: ast.AST | None) -> bool:
    return (
        isinstance(node, ast.Constant)
        and type(node.value) in (int, float)
        and node.value in DEFAULTS
    )


def threshold_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each 80 or 75 given as a threshold: a parameter default, a keyword
    or `.get(...)` fallback, or a value assigned, where the code around it says threshold."""
    tree = ast.parse(source)
    found = []

    def says_threshold(node: ast.AST) -> bool:
        return "threshold" in (ast.get_source_segment(source, node) or "").lower()

    for node in ast.walk(tree):
        candidates: list[ast.AST | None] = []
        if isinstance(node, ast.arguments):
            pairs = zip(node.args[::-1], node.defaults[::-1], strict=False)
            kw_pairs = zip(node.kwonlyargs, node.kw_defaults, strict=True)
            for arg, default in [*pairs, *kw_pairs]:
                if "threshold" in arg.arg.lower() and _is_default(default):
                    found.append((default.lineno, arg.arg))  # type: ignore[union-attr]
            continue
        if isinstance(node, ast.Call):
            candidates = [*node.args, *(k.value for k in node.keywords)]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            candidates = [node.value]
        for candidate in candidates:  # the source is read only around an 80 or a 75
            if _is_default(candidate) and says_threshold(node):
                found.append((candidate.lineno, ast.get_source_segment(source, node) or ""))  # type: ignore[union-attr]
    return sorted(found)


def test_the_detector_finds_each_way_of_writing_a_default() -> None:
    sample = (
        "def search(face_match_threshold=80.0): ...\n"
        "def associate(*, user_match_threshold: float = 75): ...\n"
        "value = params.get('FaceMatchThreshold', 80.0)\n"
        "parser.add_argument('--threshold', type=float, default=80.0)\n"
        "MY_THRESHOLD = 75.0\n"
        "min_side_px = 80\n"
        "colour = (40, 200, 80)\n"
    )
    assert [line for line, _ in threshold_literals(sample)] == [1, 2, 3, 4, 5]


def test_default_thresholds_are_written_once() -> None:
    everywhere = {
        path.relative_to(SRC).as_posix(): threshold_literals(path.read_text())
        for path in sorted(SRC.rglob("*.py"))
    }
    written = {path: hits for path, hits in everywhere.items() if hits}
    assert list(written) == ["service/identify.py"], written
    assert [text for _, text in written["service/identify.py"]] == [
        "FACE_MATCH_THRESHOLD = 80.0",
        "ASSOCIATE_THRESHOLD = 75.0",
    ]
