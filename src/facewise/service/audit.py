"""The audit trail: every identification and erasure, kept before its answer is given, in
per-account hash chains that show any edited, deleted or reordered record.

    trail = AuditTrail(context.audit_log())
    for record in trail.iterate(AuditQuery(account="default", operation="search_faces")): ...
    report = trail.verify()          # report.broken names the first record that fails

Records hold who (account, access key, source address, request id), when, what (operation,
collection, requested and applied threshold, faces searched and matched, matched ids) and
never image bytes or descriptors.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from facewise.errors import FacewiseError, InvalidParameterError, StoreError
from facewise.service.identify import Erasure, Identification
from facewise.store.audit_chain import ChainBreak, ChainChecker
from facewise.store.protocols import AuditLog
from facewise.store.records import AuditEntry, AuditQuery, AuditRecord

OPERATIONS = frozenset(k.value for k in Identification) | frozenset(k.value for k in Erasure)
EXPORT_FORMATS = ("jsonl", "csv")
PAGE = 5000  # records read per query while walking the trail
FIELDS = (
    "account",
    "seq",
    "time",
    "time_ms",
    "operation",
    "access_key_id",
    "collection",
    "requested_threshold",
    "applied_threshold",
    "faces_searched",
    "faces_matched",
    "ids",
    "request_id",
    "source_address",
    "prev_hash",
    "hash",
)


class StoreAudit:
    """The audit sink over the store's audit log: an entry that cannot be appended raises
    StoreError, so the identification it describes is refused rather than answered."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def record(self, entry: AuditEntry) -> None:
        try:
            self.log.append(entry)
        except (FacewiseError, OSError) as error:
            raise StoreError(
                f"the audit record could not be written, so the {entry.operation} was refused: "
                f"{error}"
            ) from error


def operation_name(value: str) -> str:
    """An audited operation as stored (snake_case), from that or Rekognition's name
    (``SearchFacesByImage``); InvalidParameterError for anything else."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", value.strip()).lower()
    if name not in OPERATIONS:
        known = ", ".join(sorted(OPERATIONS))
        raise InvalidParameterError(f"unknown operation {value!r}; audited operations: {known}")
    return name


def parse_time_ms(value: str, name: str) -> int:
    """Milliseconds since the epoch from an ISO 8601 date or time (UTC unless it says)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidParameterError(
            f"{name}: {value!r} is not an ISO 8601 date or time (e.g. 2026-12-04 or "
            "2026-12-04T09:30:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def as_dict(record: AuditRecord) -> dict[str, Any]:
    """A record as plain JSON values, keyed by FIELDS."""
    entry = record.entry
    shown = datetime.fromtimestamp(entry.time_ms / 1000, UTC)
    return {
        "account": entry.account,
        "seq": record.seq,
        "time": shown.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time_ms": entry.time_ms,
        "operation": entry.operation,
        "access_key_id": entry.access_key_id,
        "collection": entry.collection,
        "requested_threshold": entry.requested_threshold,
        "applied_threshold": entry.applied_threshold,
        "faces_searched": entry.faces_searched,
        "faces_matched": entry.faces_matched,
        "ids": list(entry.ids),
        "request_id": entry.request_id,
        "source_address": entry.source_address,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


@dataclass
class ChainReport:
    """One account's chain: how many records checked out, its head, the first fault."""

    account: str
    records: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None = None


@dataclass
class VerifyReport:
    """Every checked account's chain; ``intact`` when none is broken."""

    chains: list[ChainReport] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return all(chain.broken is None for chain in self.chains)

    @property
    def broken(self) -> ChainBreak | None:
        """The first fault found (accounts in name order)."""
        return next((c.broken for c in self.chains if c.broken is not None), None)


class AuditTrail:
    """List, export and verify the audit trail."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def page(
        self, query: AuditQuery, after: tuple[int, str, int] | None = None, limit: int = 100
    ) -> tuple[list[AuditRecord], tuple[int, str, int] | None]:
        """Up to ``limit`` records and the position after the last (None at the end)."""
        records = self.log.records(query, after, limit + 1)
        more = len(records) > limit
        records = records[:limit]
        if not more or not records:
            return records, None
        last = records[-1]
        return records, (last.entry.time_ms, last.entry.account, last.seq)

    def iterate(self, query: AuditQuery) -> Iterator[AuditRecord]:
        """Every matching record, by time."""
        after: tuple[int, str, int] | None = None
        while True:
            records = self.log.records(query, after, PAGE)
            yield from records
            if len(records) < PAGE:
                return
            last = records[-1]
            after = (last.entry.time_ms, last.entry.account, last.seq)

    def export(self, query: AuditQuery, fmt: str) -> Iterator[str]:
        """The matching records as JSON lines or CSV (with a header), piece by piece."""
        if fmt not in EXPORT_FORMATS:
            raise InvalidParameterError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        if fmt == "jsonl":
            for record in self.iterate(query):
                yield json.dumps(as_dict(record), separators=(",", ":")) + "\n"
            return
        yield _csv_line(FIELDS)
        for record in self.iterate(query):
            row = as_dict(record)
            row["ids"] = " ".join(row["ids"])
            yield _csv_line(["" if row[name] is None else row[name] for name in FIELDS])

    def verify(self, account: str | None = None) -> VerifyReport:
        """Walk each account's chain (or one account's) and check every link and hash."""
        report = VerifyReport()
        accounts = [account] if account is not None else self.log.accounts()
        for name in accounts:
            # The head first: records a live server appends meanwhile lie past it and wait
            # for the next verify, instead of looking like a broken end.
            head = self.log.head(name)
            end = head[0] if head is not None else 0
            checker = ChainChecker(name)
            after = 0
            while checker.broken is None and after < end:
                records = [r for r in self.log.chain(name, after, PAGE) if r.seq <= end]
                if not records:
                    break
                for record in records:
                    if not checker.feed(record):
                        break
                after = records[-1].seq
            checker.finish(head)
            head_seq, head_hash = head if head is not None else (0, "")
            report.chains.append(
                ChainReport(name, checker.count, head_seq, head_hash, checker.broken)
            )
        return report


def _csv_line(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()
