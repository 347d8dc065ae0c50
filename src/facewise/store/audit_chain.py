"""The audit trail's hash chain: each account's records are numbered from 1, and each carries
the SHA-256 of its own fields and of the record before it. Editing a record changes its hash;
deleting or reordering one breaks the link of the next; dropping the newest ones leaves the
account's head (its last seq and hash, kept beside the records) pointing past the end.

Every backend computes hashes here, so a chain written by one verifies in any other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from facewise.store.records import AuditEntry, AuditRecord

GENESIS_HASH = "0" * 64  # the "previous hash" of an account's first record


def record_hash(seq: int, entry: AuditEntry, prev_hash: str) -> str:
    """The SHA-256 (hex) of a record's place, fields and predecessor, in one fixed encoding."""
    fields = [
        entry.account,
        seq,
        entry.time_ms,
        entry.operation,
        entry.access_key_id,
        entry.collection,
        _number(entry.requested_threshold),
        _number(entry.applied_threshold),
        entry.faces_searched,
        entry.faces_matched,
        list(entry.ids),
        entry.request_id,
        entry.source_address,
        prev_hash,
    ]
    encoded = json.dumps(fields, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def chained(seq: int, entry: AuditEntry, prev_hash: str) -> AuditRecord:
    """The stored form of ``entry`` placed after a record whose hash is ``prev_hash``."""
    return AuditRecord(seq, entry, prev_hash, record_hash(seq, entry, prev_hash))


@dataclass(frozen=True)
class ChainBreak:
    """The first record of an account's chain that does not check out, and why."""

    account: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"account {self.account!r}, record {self.seq}: {self.reason}"


class ChainChecker:
    """Checks one account's records fed in ``seq`` order; ``broken`` holds the first fault."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.count = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.broken: ChainBreak | None = None

    def feed(self, record: AuditRecord) -> bool:
        """Check the next record; False (and ``broken`` set) at the first one that fails."""
        expected = self.last_seq + 1
        if record.seq != expected:
            return self._break(expected, f"is missing (record {record.seq} follows {expected - 1})")
        if record.prev_hash != self.last_hash:
            return self._break(record.seq, "does not follow the record before it")
        if record.entry.account != self.account:
            return self._break(record.seq, "was moved from another account")
        if record_hash(record.seq, record.entry, record.prev_hash) != record.hash:
            return self._break(record.seq, "was altered (its hash does not match its fields)")
        self.count += 1
        self.last_seq, self.last_hash = record.seq, record.hash
        return True

    def finish(self, head: tuple[int, str] | None) -> bool:
        """Compare the end of the chain with the account's head (its newest seq and hash)."""
        if self.broken is not None:
            return False
        head_seq, head_hash = head if head is not None else (0, GENESIS_HASH)
        if head_seq > self.last_seq:
            return self._break(
                self.last_seq + 1, f"is missing (the head says the chain ends at {head_seq})"
            )
        if head_seq != self.last_seq or head_hash != self.last_hash:
            return self._break(self.last_seq, "does not match the chain's head")
        return True

    def _break(self, seq: int, reason: str) -> bool:
        self.broken = ChainBreak(self.account, seq, reason)
        return False
