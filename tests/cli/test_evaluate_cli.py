"""`facewise evaluate DIR` (cli/evaluate.py) through a parser built here the way cli/main.py
builds its own, on the real photos of tests/service/test_evaluate.py."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from facewise.cli import evaluate as evaluate_cli
from facewise.cli.analyzer_options import analyzer_from_args
from facewise.cli.det_plot import DET_SIZE_WH, axis_range, det_image
from facewise.cli.main import _add_store_options
from facewise.errors import InvalidParameterError
from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.service.collections import FaceCollections
from facewise.service.evaluate import DetCurve, Scope, ScopeRates, det_curve, error_rates
from tests.fakes.analyzer import FakeAnalyzer, People
from tests.service.test_evaluate import write_labelled_photos


def parse(*argv: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="facewise")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate_cli.add_commands(commands, _add_store_options)
    return parser.parse_args(["evaluate", *(str(a) for a in argv)])


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    return write_labelled_photos(tmp_path_factory.mktemp("evaluate-cli"), astronaut)


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], analyzer: FaceAnalyzer
) -> Any:
    """Run the command with the session's analyzer; (exit status, stdout, stderr)."""
    monkeypatch.setattr(evaluate_cli, "analyzer_from_args", lambda args: analyzer)

    def run(*argv: object) -> tuple[int, str, str]:
        args = parse(*argv)
        status = args.run(args)
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_table_and_det_png(run: Any, photos: Path, tmp_path: Path) -> None:
    det = tmp_path / "plots" / "det.png"
    status, out, err = run(photos, "--det", det)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == (
        "all pairs, 6 photos of 2 identities: 6 same-person pairs, 9 different-person pairs"
    )
    assert lines[1].split() == [
        "threshold",
        "false-match",
        "rate",
        "(n",
        "of",
        "N)",
        "false-non-match",
        "rate",
        "(n",
        "of",
        "N)",
    ]
    assert [line.split()[0] for line in lines[2:6]] == ["80", "90", "95", "99"]
    assert "90 (floor)" in lines[3]
    assert "0.000% (0 of 9)" in lines[2] and "0.000% (0 of 6)" in lines[2]
    assert "grace/webp-in-disguise.jpg: image must be JPEG or PNG, found WebP" in out
    assert "eileen/sky.png: no face found" in out
    assert f"wrote {det}" in err
    with Image.open(det) as image:
        assert image.format == "PNG"
        assert image.size == DET_SIZE_WH


def test_json_by_manifest_with_groups_and_a_floor(run: Any, photos: Path, tmp_path: Path) -> None:
    det = tmp_path / "det.png"
    status, out, _ = run(
        photos,
        "--manifest",
        "manifest.csv",  # not in the working directory: read inside DIR
        "--group-by",
        "variant",
        "--floor",
        "93",
        "--json",
        "--det",
        det,
    )
    assert status == 0
    with Image.open(det) as image:
        assert (image.format, image.size) == ("PNG", DET_SIZE_WH)
    result = json.loads(out)
    assert result["floor_pct"] == 93.0
    assert result["group_by"] == "variant"
    assert [r["threshold_pct"] for r in result["overall"]["rates"]] == [80, 90, 93, 95, 99]
    assert [(g["scope"], g["group"]) for g in result["groups"]] == [
        ("group", "edited"),
        ("group", "original"),
        ("mixed", None),
    ]
    assert (
        len(result["pairs"])
        == 15
        == sum(g["genuine_pairs"] + g["impostor_pairs"] for g in result["groups"])
    )
    same = [p["similarity_pct"] for p in result["pairs"] if p["same_identity"]]
    assert len(same) == result["overall"]["genuine_pairs"] == 6
    assert min(same) > 99.5
    assert {p["path"] for p in result["photos"]} == {
        "eileen/original.jpg",
        "eileen/mirrored-darker.png",
        "eileen/cropped.jpg",
        "grace/original.jpg",
        "grace/mirrored-tilted.jpg",
        "grace/half-size.png",
    }


def test_the_floor_defaults_to_the_accounts(
    run: Any, photos: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert evaluate_cli.account_floor(parse(photos, "--data-dir", tmp_path)) == 90.0
    with FaceCollections.open(tmp_path, analyzer=FakeAnalyzer(People())) as faces:
        faces.set_account_floor(95)
    assert evaluate_cli.account_floor(parse(photos, "--data-dir", tmp_path)) == 95.0
    monkeypatch.setattr(evaluate_cli, "account_floor", lambda args: 97.5)
    status, out, _ = run(photos, "--json")
    assert status == 0
    assert json.loads(out)["floor_pct"] == 97.5


def test_group_by_needs_a_manifest(run: Any, photos: Path) -> None:
    with pytest.raises(InvalidParameterError, match="--manifest"):
        run(photos, "--group-by", "variant")


def test_unknown_group_column_is_refused(run: Any, photos: Path) -> None:
    with pytest.raises(InvalidParameterError, match="'lighting'"):
        run(photos, "--manifest", photos / "manifest.csv", "--group-by", "lighting")


def test_det_must_be_a_png(photos: Path) -> None:
    with pytest.raises(SystemExit):
        parse(photos, "--det", "curve.jpg")


def test_analyzer_options_reach_the_analyzer(photos: Path, tmp_path: Path) -> None:
    args = parse(
        photos,
        "--min-confidence",
        "80",
        "--min-face",
        "60",
        "--max-side",
        "800",
        "--embedder",
        "dlib",
        "--data-dir",
        tmp_path,
    )
    config = analyzer_from_args(args).config  # builds no model until one is used
    assert config.detector.score_threshold == 0.8
    assert (config.detector.min_face_px, config.detector.max_side_px) == (60, 800)
    assert (config.embedder, config.data_dir) == ("dlib", tmp_path)


def test_det_axes_stretch_to_what_the_rates_need() -> None:
    genuine = np.array([True] * 4 + [False] * 40_000)
    similarity = np.concatenate([[99.5, 98.0, 97.0, 96.0], np.linspace(0.0, 99.2, 40_000)])
    rates = ScopeRates(
        scope=Scope.ALL,
        group=None,
        photos=200,
        identities=10,
        genuine_pairs=4,
        impostor_pairs=40_000,
        rates=error_rates(similarity, genuine, (80.0, 90.0, 95.0, 99.0, 99.9)),
        lowest_genuine_pct=96.0,
        highest_impostor_pct=99.2,
    )
    curve = DetCurve(rates, det_curve(similarity, genuine))
    # 1/40,000 needs a decade below 0.01%; 100% missed at 99.9 needs the top past 50%.
    assert axis_range([curve]) == (1e-5, 0.95)
    image = det_image([curve], floor_pct=99.9, title="stretched")
    assert image.size == DET_SIZE_WH
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 2  # something was drawn


def test_every_option_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "evaluate.md").read_text()
    parser = argparse.ArgumentParser(prog="facewise")
    commands = parser.add_subparsers()
    evaluate_cli.add_commands(commands, _add_store_options)
    options = [
        option
        for action in commands.choices["evaluate"]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    assert len(options) == 11
    missing = [option for option in options if f"`{option}" not in docs]
    assert not missing, f"docs/evaluate.md does not document {missing}"
