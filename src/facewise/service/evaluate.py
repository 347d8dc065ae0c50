"""How often thresholds err on labelled photos: false-match and false-non-match rates at
Rekognition's thresholds and the account's floor, per group, and the DET curve.

    labelled = labelled_folder(Path("people"))       # people/<identity>/<photos>
    labelled = labelled_manifest(Path("faces"), Path("faces/manifest.csv"), group_by="source")
    result = evaluate(labelled, analyzer, floor_pct=90.0)
    result.overall.rates[0].false_match_rate       # at 80: different-person pairs that match

Every photo gives one descriptor (its largest face) and every two photos one pair: a genuine
pair when both show the same identity, an impostor pair otherwise. A pair matches at a
threshold when its similarity (pipeline.similarity, 0-100) is at or above it, as in
CompareFaces and search. The rates describe this model on these photos only: N impostor
pairs cannot resolve a false-match rate below about 1/N, so "0 of N" means "below what the
set can measure", not zero.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from facewise.errors import (
    ImageTooLargeError,
    InvalidImageFormatError,
    InvalidParameterError,
)
from facewise.imaging.decode import load_image
from facewise.pipeline.analyzer import Analyzer
from facewise.pipeline.similarity import descriptor_distances, similarity_pct
from facewise.service.analysis import embedded_faces
from facewise.service.options import parse_percentage

REPORTED_THRESHOLDS_PCT = (80.0, 90.0, 95.0, 99.0)  # Rekognition's default, up to AWS's advice
MANIFEST_COLUMNS = ("path", "identity")
_UNREADABLE = (InvalidImageFormatError, ImageTooLargeError, InvalidParameterError)

Progress = Callable[[int, int, Path], None]
"""Called after each photo with (photos done, photos in all, the photo's path)."""


@dataclass(frozen=True)
class LabelledPhoto:
    """A photo and whom it shows; path is relative to the set's root."""

    path: Path
    identity: str
    group: str | None = None


@dataclass(frozen=True)
class SkippedPhoto:
    """A file left out of the evaluation, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class LabelledSet:
    """Photos with identities (and groups, when a manifest column was chosen), as listed;
    skipped holds the files already left out while listing."""

    root: Path
    photos: tuple[LabelledPhoto, ...]
    skipped: tuple[SkippedPhoto, ...] = ()
    group_by: str | None = None


@dataclass(frozen=True)
class EvaluatedPhoto:
    """A photo that gave a descriptor; faces_found > 1 means the largest face was used."""

    path: Path
    identity: str
    group: str | None
    faces_found: int


@dataclass(frozen=True)
class RateAt:
    """Errors at one threshold. A rate is None when there are no pairs of its kind."""

    threshold_pct: float
    false_matches: int
    """Impostor (different-identity) pairs with similarity at or above the threshold."""
    impostor_pairs: int
    false_non_matches: int
    """Genuine (same-identity) pairs with similarity below the threshold."""
    genuine_pairs: int

    @property
    def false_match_rate(self) -> float | None:
        return self.false_matches / self.impostor_pairs if self.impostor_pairs else None

    @property
    def false_non_match_rate(self) -> float | None:
        return self.false_non_matches / self.genuine_pairs if self.genuine_pairs else None


class Scope(StrEnum):
    """Which pairs a row of rates counts."""

    ALL = "all"  # every pair
    GROUP = "group"  # pairs whose two photos share one group label
    MIXED = "mixed"  # pairs whose two photos carry different group labels


@dataclass(frozen=True)
class ScopeRates:
    """The rates over one scope's pairs, with the photos and identities those pairs use and
    the hardest pairs: the lowest-scoring genuine one and the highest-scoring impostor."""

    scope: Scope
    group: str | None  # the label, for Scope.GROUP
    photos: int
    identities: int
    genuine_pairs: int
    impostor_pairs: int
    rates: tuple[RateAt, ...]
    lowest_genuine_pct: float | None
    highest_impostor_pct: float | None

    @property
    def label(self) -> str:
        """The group's label, or "all" / "mixed"."""
        return (
            self.group if self.scope is Scope.GROUP and self.group is not None else self.scope.value
        )


@dataclass(frozen=True, eq=False)
class PairScores:
    """Every pair of evaluated photos (first < second, indices into the photos), its
    similarity 0-100, whether both show one identity, and its group: an index into the
    result's group labels, or -1 when the photos are in different groups or none are set."""

    first: np.ndarray
    second: np.ndarray
    similarity_pct: np.ndarray
    genuine: np.ndarray
    group: np.ndarray


@dataclass(frozen=True)
class EvaluationResult:
    """Rates over all pairs and, when groups are labelled, per group (only pairs whose two
    photos share that group) and over the mixed-group pairs; the pairs themselves."""

    photos: tuple[EvaluatedPhoto, ...]
    skipped: tuple[SkippedPhoto, ...]
    floor_pct: float
    group_by: str | None
    overall: ScopeRates
    groups: tuple[ScopeRates, ...]
    pairs: PairScores
    group_labels: tuple[str, ...]
    """The groups in PairScores.group's order (empty without group_by)."""


@dataclass(frozen=True)
class DetPoint:
    """One operating point: pairs with similarity >= threshold_pct match."""

    threshold_pct: float
    false_match_rate: float
    false_non_match_rate: float


@dataclass(frozen=True)
class DetCurve:
    """The DET curve of one scope (empty points when it lacks genuine or impostor pairs)."""

    rates: ScopeRates
    points: tuple[DetPoint, ...]


# --- the labelled set -----------------------------------------------------------------------


def labelled_folder(root: Path) -> LabelledSet:
    """One sub-folder per identity (its name is the identity), photos anywhere inside it.
    Hidden files are ignored; files directly in root belong to nobody and are skipped."""
    if not root.is_dir():
        raise InvalidParameterError(f"no such folder: {root}")
    photos, skipped = [], []
    for found in sorted(root.rglob("*")):
        relative = found.relative_to(root)
        if not found.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if len(relative.parts) == 1:
            skipped.append(SkippedPhoto(relative, "not inside an identity's sub-folder"))
        else:
            photos.append(LabelledPhoto(relative, relative.parts[0]))
    _require_identities(photos, f"folder {root}")
    return LabelledSet(root, tuple(photos), tuple(skipped))


def labelled_manifest(root: Path, manifest: Path, group_by: str | None = None) -> LabelledSet:
    """A CSV whose header names at least `path` (relative to root) and `identity`; group_by
    names another column to break the rates down by. A row with an empty identity, or
    repeating an earlier path, is skipped; a path that does not exist is an error."""
    if not root.is_dir():
        raise InvalidParameterError(f"no such folder: {root}")
    if not manifest.is_file():
        raise InvalidParameterError(f"no such manifest file: {manifest}")
    with manifest.open(newline="", encoding="utf-8-sig") as lines:
        reader = csv.DictReader(lines)
        columns = tuple(reader.fieldnames or ())
        missing = [c for c in MANIFEST_COLUMNS if c not in columns]
        if missing:
            raise InvalidParameterError(
                f"manifest {manifest} needs the columns {', '.join(MANIFEST_COLUMNS)}; "
                f"its header has {', '.join(columns) or 'nothing'}"
            )
        if group_by is not None and group_by not in columns:
            raise InvalidParameterError(
                f"no column {group_by!r} to group by in manifest {manifest}; "
                f"its columns are {', '.join(columns)}"
            )
        rows = list(reader)
    photos, skipped = [], []
    first_line: dict[Path, int] = {}
    for line, row in enumerate(rows, start=2):
        path = Path(row["path"] or "")
        if not (root / path).is_file():
            raise InvalidParameterError(f"{manifest} line {line}: no such file {root / path}")
        identity = (row["identity"] or "").strip()
        if not identity:
            skipped.append(SkippedPhoto(path, f"no identity on manifest line {line}"))
        elif path in first_line:
            skipped.append(SkippedPhoto(path, f"listed again on line {line}"))
        else:
            first_line[path] = line
            group = (row[group_by] or "").strip() if group_by is not None else None
            photos.append(LabelledPhoto(path, identity, group))
    _require_identities(photos, f"manifest {manifest}")
    return LabelledSet(root, tuple(photos), tuple(skipped), group_by)


def _require_identities(photos: Sequence[LabelledPhoto | EvaluatedPhoto], where: str) -> None:
    identities = {p.identity for p in photos}
    if len(identities) < 2:
        raise InvalidParameterError(
            f"{where}: an evaluation needs photos of at least 2 identities, found {len(identities)}"
        )


# --- descriptors and pairs ------------------------------------------------------------------


def evaluate(
    labelled: LabelledSet,
    analyzer: Analyzer,
    floor_pct: float,
    *,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Describe each photo by its largest face, score every pair, and count the errors at
    80, 90, 95, 99 and floor_pct (the account's floor: the lowest threshold it may use).

    Photos that are not JPEG or PNG, too large or small, or show no face are skipped with
    the reason. Raises InvalidParameterError when fewer than 2 identities remain.
    """
    floor_pct = parse_percentage("floor", floor_pct)
    photos, descriptors, skipped = _describe(labelled, analyzer, progress)
    _require_identities(photos, f"{labelled.root}, after skipping unusable photos")
    group_labels = (
        tuple(sorted({p.group for p in photos if p.group is not None}))
        if labelled.group_by is not None
        else ()
    )
    pairs = _pair_scores(photos, descriptors, group_labels)
    thresholds = tuple(sorted({*REPORTED_THRESHOLDS_PCT, floor_pct}))
    everything = np.ones(len(pairs.genuine), dtype=bool)
    overall = _scope_rates(Scope.ALL, None, everything, photos, pairs, thresholds)
    groups = [
        _scope_rates(
            Scope.GROUP,
            label,
            pairs.group == index,
            photos,
            pairs,
            thresholds,
            members=[i for i, p in enumerate(photos) if p.group == label],
        )
        for index, label in enumerate(group_labels)
    ]
    mixed = pairs.group == -1
    if group_labels and mixed.any():
        groups.append(_scope_rates(Scope.MIXED, None, mixed, photos, pairs, thresholds))
    return EvaluationResult(
        photos=tuple(photos),
        skipped=labelled.skipped + tuple(skipped),
        floor_pct=floor_pct,
        group_by=labelled.group_by,
        overall=overall,
        groups=tuple(groups),
        pairs=pairs,
        group_labels=group_labels,
    )


def _describe(
    labelled: LabelledSet, analyzer: Analyzer, progress: Progress | None
) -> tuple[list[EvaluatedPhoto], list[np.ndarray], list[SkippedPhoto]]:
    photos, descriptors, skipped = [], [], []
    for done, photo in enumerate(labelled.photos, start=1):
        try:
            rgb = load_image(labelled.root / photo.path)
        except _UNREADABLE as error:
            skipped.append(SkippedPhoto(photo.path, str(error)))
        else:
            faces = embedded_faces(analyzer, rgb, frozenset())  # largest first
            if faces:
                photos.append(EvaluatedPhoto(photo.path, photo.identity, photo.group, len(faces)))
                descriptors.append(faces[0].embedding)
            else:
                skipped.append(SkippedPhoto(photo.path, "no face found"))
        if progress is not None:
            progress(done, len(labelled.photos), photo.path)
    return photos, descriptors, skipped


def _pair_scores(
    photos: Sequence[EvaluatedPhoto],
    descriptors: Sequence[np.ndarray],
    group_labels: tuple[str, ...],
) -> PairScores:
    count = len(photos)
    first, second = np.triu_indices(count, k=1)
    stacked = np.asarray(descriptors, dtype=np.float64)
    distances = np.concatenate(
        [descriptor_distances(stacked[i], stacked[i + 1 :]) for i in range(count - 1)]
    )
    identity = np.array([p.identity for p in photos], dtype=object)
    index_of = {label: i for i, label in enumerate(group_labels)}
    group = np.array([index_of.get(p.group, -1) if p.group is not None else -1 for p in photos])
    same_group = (group[first] == group[second]) & (group[first] >= 0)
    return PairScores(
        first=first,
        second=second,
        similarity_pct=np.asarray(similarity_pct(distances), dtype=np.float64),
        genuine=np.asarray(identity[first] == identity[second], dtype=bool),
        group=np.where(same_group, group[first], -1),
    )


# --- rates ----------------------------------------------------------------------------------


def error_rates(
    similarity: np.ndarray, genuine: np.ndarray, thresholds_pct: Sequence[float]
) -> tuple[RateAt, ...]:
    """False matches among the impostor pairs (similarity >= threshold) and false non-matches
    among the genuine ones (similarity < threshold), at each threshold."""
    impostor_scores, genuine_scores = similarity[~genuine], similarity[genuine]
    return tuple(
        RateAt(
            threshold_pct=float(t),
            false_matches=int((impostor_scores >= t).sum()),
            impostor_pairs=len(impostor_scores),
            false_non_matches=int((genuine_scores < t).sum()),
            genuine_pairs=len(genuine_scores),
        )
        for t in thresholds_pct
    )


def _scope_rates(
    scope: Scope,
    group: str | None,
    mask: np.ndarray,
    photos: Sequence[EvaluatedPhoto],
    pairs: PairScores,
    thresholds_pct: Sequence[float],
    members: Sequence[int] | None = None,
) -> ScopeRates:
    """The rates over the pairs in mask; photos and identities count members (a group's
    photos), else the photos those pairs use."""
    similarity, genuine = pairs.similarity_pct[mask], pairs.genuine[mask]
    used = members if members is not None else np.union1d(pairs.first[mask], pairs.second[mask])
    genuine_scores, impostor_scores = similarity[genuine], similarity[~genuine]
    return ScopeRates(
        scope=scope,
        group=group,
        photos=len(used),
        identities=len({photos[i].identity for i in used}),
        genuine_pairs=len(genuine_scores),
        impostor_pairs=len(impostor_scores),
        rates=error_rates(similarity, genuine, thresholds_pct),
        lowest_genuine_pct=float(genuine_scores.min()) if len(genuine_scores) else None,
        highest_impostor_pct=float(impostor_scores.max()) if len(impostor_scores) else None,
    )


def det_curve(similarity: np.ndarray, genuine: np.ndarray) -> tuple[DetPoint, ...]:
    """False-match against false-non-match rate at every threshold where either changes: one
    point at each distinct similarity (pairs at or above it match), from the lowest (every
    pair matches: FMR 1, FNMR 0) to one just above the highest (none does: FMR 0, FNMR 1).
    Empty when there are no genuine or no impostor pairs."""
    impostor_scores = np.sort(similarity[~genuine])
    genuine_scores = np.sort(similarity[genuine])
    if not len(impostor_scores) or not len(genuine_scores):
        return ()
    thresholds = np.unique(similarity)
    thresholds = np.append(thresholds, np.nextafter(thresholds[-1], np.inf))
    matched_impostors = len(impostor_scores) - np.searchsorted(impostor_scores, thresholds)
    missed_genuines = np.searchsorted(genuine_scores, thresholds)
    fmr = matched_impostors / len(impostor_scores)
    fnmr = missed_genuines / len(genuine_scores)
    return tuple(
        DetPoint(float(t), float(a), float(b))
        for t, a, b in zip(thresholds, fmr, fnmr, strict=True)
    )


def det_curves(result: EvaluationResult) -> tuple[DetCurve, ...]:
    """The DET curve over all pairs, then one per group row (groups and mixed pairs)."""
    pairs = result.pairs
    curves = [DetCurve(result.overall, det_curve(pairs.similarity_pct, pairs.genuine))]
    for rates in result.groups:
        if rates.scope is Scope.MIXED:
            mask = pairs.group == -1
        else:
            mask = pairs.group == result.group_labels.index(rates.label)
        curves.append(DetCurve(rates, det_curve(pairs.similarity_pct[mask], pairs.genuine[mask])))
    return tuple(curves)
