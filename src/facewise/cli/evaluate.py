"""`facewise evaluate DIR`: false-match and false-non-match rates on labelled photos, as a
table, JSON, and a DET curve PNG."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facewise.cli.analyzer_options import add_analyzer_options, analyzer_from_args

if TYPE_CHECKING:
    from facewise.service.evaluate import EvaluationResult, RateAt, ScopeRates


def account_floor(args: argparse.Namespace) -> float:
    """The floor of the account the command acts for: the lowest threshold it may use."""
    from facewise.service.caller import DEFAULT_ACCOUNT
    from facewise.service.policy import Policies
    from facewise.store.backends import chosen_store_url, open_store

    store = open_store(chosen_store_url(args.store_url, args.data_dir))
    try:
        return Policies(store.policies, store.faces).account_floor(DEFAULT_ACCOUNT)
    finally:
        store.close()


def _manifest_path(value: Path, folder: Path) -> Path:
    """The manifest as named, else the file of that name inside DIR."""
    return value if value.is_file() or value.is_absolute() else folder / value


def _progress(done: int, total: int, path: Path) -> None:
    from facewise.cli.render import progress_bar

    end = "\n" if done == total else ""
    print(
        f"\r{progress_bar(done, total)} {done}/{total} {str(path)[-40:]:<40}",
        end=end,
        file=sys.stderr,
    )


def _evaluate(args: argparse.Namespace) -> int:
    from facewise.cli import det_plot, draw
    from facewise.errors import InvalidParameterError
    from facewise.service.evaluate import det_curves, evaluate, labelled_folder, labelled_manifest

    if args.group_by is not None and args.manifest is None:
        raise InvalidParameterError("--group-by names a column of --manifest; give --manifest")
    if args.manifest is not None:
        manifest = _manifest_path(args.manifest, args.folder)
        labelled = labelled_manifest(args.folder, manifest, args.group_by)
    else:
        labelled = labelled_folder(args.folder)
    floor = args.floor if args.floor is not None else account_floor(args)
    progress = _progress if sys.stderr.isatty() else None
    result = evaluate(labelled, analyzer_from_args(args), floor, progress=progress)
    if args.json:
        print(json.dumps(result_json(result), indent=2))
    else:
        print(result_table(result))
    if args.det:
        title = f"DET curve: {args.folder.resolve().name} ({len(result.photos)} photos)"
        draw.save(det_plot.det_image(det_curves(result), result.floor_pct, title), args.det)
        print(f"wrote {args.det}", file=sys.stderr)
    return 0


# --- output ---------------------------------------------------------------------------------


def _rate_text(count: int, total: int) -> str:
    if not total:
        return "n/a (no pairs)"
    return f"{count / total * 100:.3f}% ({count:,} of {total:,})"


def _rows(rates: ScopeRates, floor_pct: float) -> list[str]:
    lines = [f"  {'threshold':<12}{'false-match rate (n of N)':<30}false-non-match rate (n of N)"]
    for at in rates.rates:
        name = f"{at.threshold_pct:g}" + (" (floor)" if at.threshold_pct == floor_pct else "")
        false_match = _rate_text(at.false_matches, at.impostor_pairs)
        false_non_match = _rate_text(at.false_non_matches, at.genuine_pairs)
        lines.append(f"  {name:<12}{false_match:<30}{false_non_match}")
    hardest = []
    if rates.lowest_genuine_pct is not None:
        hardest.append(f"lowest same-person similarity {rates.lowest_genuine_pct:.2f}")
    if rates.highest_impostor_pct is not None:
        hardest.append(f"highest different-person similarity {rates.highest_impostor_pct:.2f}")
    lines.append("  " + "; ".join(hardest))
    return lines


def _heading(rates: ScopeRates) -> str:
    return (
        f"{rates.photos} photos of {rates.identities} identities: "
        f"{rates.genuine_pairs:,} same-person pairs, {rates.impostor_pairs:,} different-person "
        "pairs"
    )


def result_table(result: EvaluationResult) -> str:
    """Threshold | false-match rate | false-non-match rate, over all pairs and per group."""
    lines = [f"all pairs, {_heading(result.overall)}", *_rows(result.overall, result.floor_pct)]
    if result.groups:
        lines.append(
            f"\nby {result.group_by} (pairs whose two photos share the group; "
            "'mixed': photos of different groups)"
        )
    for rates in result.groups:
        lines += [f"\n{rates.label}, {_heading(rates)}", *_rows(rates, result.floor_pct)]
    several = [p for p in result.photos if p.faces_found > 1]
    if several:
        lines.append(f"\n{len(several)} photo(s) showed more than one face; the largest was used:")
        lines += [f"  {p.path} ({p.faces_found} faces)" for p in several]
    if result.skipped:
        lines.append(f"\nskipped {len(result.skipped)} file(s):")
        lines += [f"  {s.path}: {s.reason}" for s in result.skipped]
    return "\n".join(lines)


def _rate_json(at: RateAt) -> dict[str, Any]:
    return {
        "threshold_pct": at.threshold_pct,
        "false_match_rate": at.false_match_rate,
        "false_matches": at.false_matches,
        "impostor_pairs": at.impostor_pairs,
        "false_non_match_rate": at.false_non_match_rate,
        "false_non_matches": at.false_non_matches,
        "genuine_pairs": at.genuine_pairs,
    }


def _scope_json(rates: ScopeRates) -> dict[str, Any]:
    return {
        "scope": rates.scope.value,
        "group": rates.group,
        "photos": rates.photos,
        "identities": rates.identities,
        "genuine_pairs": rates.genuine_pairs,
        "impostor_pairs": rates.impostor_pairs,
        "lowest_genuine_pct": rates.lowest_genuine_pct,
        "highest_impostor_pct": rates.highest_impostor_pct,
        "rates": [_rate_json(at) for at in rates.rates],
    }


def result_json(result: EvaluationResult) -> dict[str, Any]:
    """The whole result as JSON-ready values, every pair included."""
    pairs = result.pairs
    paths = [str(p.path) for p in result.photos]
    return {
        "floor_pct": result.floor_pct,
        "group_by": result.group_by,
        "overall": _scope_json(result.overall),
        "groups": [_scope_json(rates) for rates in result.groups],
        "photos": [
            {
                "path": str(p.path),
                "identity": p.identity,
                "group": p.group,
                "faces_found": p.faces_found,
            }
            for p in result.photos
        ],
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in result.skipped],
        "pairs": [
            {
                "first": paths[first],
                "second": paths[second],
                "similarity_pct": round(float(similarity), 4),
                "same_identity": bool(genuine),
                "group": result.group_labels[group] if group >= 0 else None,
            }
            for first, second, similarity, genuine, group in zip(
                pairs.first.tolist(),
                pairs.second.tolist(),
                pairs.similarity_pct.tolist(),
                pairs.genuine.tolist(),
                pairs.group.tolist(),
                strict=True,
            )
        ],
    }


# --- the command ----------------------------------------------------------------------------


def _png_path(value: str) -> Path:
    path = Path(value)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{value!r} must end in .png")
    return path


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_store_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="false-match and false-non-match rates at 80/90/95/99 and the floor on a folder "
        "of labelled photos",
    )
    evaluate.add_argument(
        "folder",
        type=Path,
        metavar="DIR",
        help="one sub-folder per person (its name is the identity), JPEG/PNG photos inside; "
        "with --manifest, the folder its paths are relative to",
    )
    evaluate.add_argument(
        "--manifest",
        type=Path,
        metavar="FILE",
        help="CSV with a header naming at least path (relative to DIR) and identity; FILE is "
        "read as given, else inside DIR",
    )
    evaluate.add_argument(
        "--group-by",
        metavar="COLUMN",
        help="a manifest column to break the rates down by (pairs within each group, and "
        "pairs across groups)",
    )
    evaluate.add_argument(
        "--det", type=_png_path, metavar="OUT.png", help="write the DET curve as a PNG"
    )
    evaluate.add_argument(
        "--floor",
        type=float,
        default=None,
        metavar="N",
        help="also report the rates at this threshold (default: the account's floor)",
    )
    evaluate.add_argument(
        "--json", action="store_true", help="print the whole result, every pair included"
    )
    add_analyzer_options(evaluate, landmarks_68=False)
    add_store_options(evaluate)
    evaluate.set_defaults(run=_evaluate)
