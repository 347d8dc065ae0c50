"""The audit trail's hash chain on a real SQLite file: `facewise audit verify` passes an
intact trail and names the first record that was edited, deleted or reordered in the
database; list and export filter and page; a trail that cannot be written refuses the
identification."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from facewise.cli.main import main
from facewise.errors import StoreError
from facewise.service.audit import AuditTrail, StoreAudit, operation_name
from facewise.service.caller import Caller
from facewise.service.identify import Identification, Outcome, Rules, identify
from facewise.store.backends import DATABASE_FILE, default_store_url, open_store
from facewise.store.records import AuditEntry, AuditQuery


def _entry(account: str, number: int) -> AuditEntry:
    return AuditEntry(
        account=account,
        time_ms=1_800_000_000_000 + number,
        operation="search_faces_by_image" if number % 2 else "compare_faces",
        access_key_id=f"FWKEY{number % 3}",
        collection="staff" if number % 2 else None,
        requested_threshold=None if number % 4 == 0 else 80.0,
        applied_threshold=90.0,
        faces_searched=1,
        faces_matched=number % 2,
        ids=(f"face-{number}",) if number % 2 else (),
        request_id=f"request-{number}",
        source_address="127.0.0.1",
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    store = open_store(default_store_url(tmp_path))
    try:
        for number in range(1, 11):
            store.audit.append(_entry("default", number))
        for number in range(1, 4):
            store.audit.append(_entry("other", number))
    finally:
        store.close()
    return tmp_path


def _verify(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["audit", "verify", "--data-dir", str(data_dir)])
    return status, capsys.readouterr().out


def _tamper(data_dir: Path, *statements: str) -> None:
    with sqlite3.connect(data_dir / DATABASE_FILE) as db:
        for statement in statements:
            db.execute(statement)


def test_an_intact_trail_verifies(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _verify(data_dir, capsys)
    assert status == 0
    assert "default: 10 records checked, head 10" in out and "other: 3 records checked" in out
    assert out.count("intact") == 2


TAMPERING: dict[str, tuple[tuple[str, ...], str]] = {
    "an edited threshold": (
        ("UPDATE audit_records SET applied_threshold = 50 WHERE account='default' AND seq=5",),
        "record 5: was altered",
    ),
    "an edited match list": (
        ("UPDATE audit_records SET ids = '[]' WHERE account='default' AND seq=7",),
        "record 7: was altered",
    ),
    "a deleted record": (
        ("DELETE FROM audit_records WHERE account='default' AND seq=5",),
        "record 5: is missing",
    ),
    "the newest record deleted": (
        ("DELETE FROM audit_records WHERE account='default' AND seq=10",),
        "record 10: is missing",
    ),
    "two records swapped": (
        (
            "UPDATE audit_records SET seq = -1 WHERE account='default' AND seq=3",
            "UPDATE audit_records SET seq = 3 WHERE account='default' AND seq=6",
            "UPDATE audit_records SET seq = 6 WHERE account='default' AND seq=-1",
        ),
        "record 3: does not follow",
    ),
    "a record moved to another account": (
        ("UPDATE audit_records SET account='other', seq=4 WHERE account='default' AND seq=10",),
        "'default', record 10: is missing",
    ),
}


@pytest.mark.parametrize("case", TAMPERING, ids=list(TAMPERING))
def test_tampering_is_named(data_dir: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    statements, named = TAMPERING[case]
    _tamper(data_dir, *statements)
    status, out = _verify(data_dir, capsys)
    assert status == 1, out
    assert f"BROKEN: account {named}" in out or named in out, out


def test_a_rehashed_edit_still_breaks_the_next_link(data_dir: Path) -> None:
    """An editor who recomputes the edited record's hash breaks its successor's link."""
    from facewise.store.audit_chain import record_hash

    store = open_store(default_store_url(data_dir))
    try:
        record = store.audit.chain("default", 4, 1)[0]  # record 5 matched face-5
        forged = AuditEntry(**{**vars(record.entry), "ids": ()})
        new_hash = record_hash(record.seq, forged, record.prev_hash)
    finally:
        store.close()
    _tamper(
        data_dir,
        f"UPDATE audit_records SET ids='[]', hash='{new_hash}' WHERE account='default' AND seq=5",
    )
    store = open_store(default_store_url(data_dir))
    try:
        broken = AuditTrail(store.audit).verify("default").broken
    finally:
        store.close()
    assert broken is not None and broken.seq == 6 and "does not follow" in broken.reason


def test_list_filters_and_export_formats(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--data-dir", str(data_dir), "--account", "default"]
    assert main(["audit", "list", "--json", "--operation", "SearchFacesByImage", *args]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["seq"] for r in rows] == [1, 3, 5, 7, 9]
    assert {r["operation"] for r in rows} == {"search_faces_by_image"}
    assert rows[0]["ids"] == ["face-1"] and rows[0]["time"].endswith("Z")
    assert main(["audit", "list", "--json", "--key", "FWKEY0", *args]) == 0
    assert [json.loads(x)["seq"] for x in capsys.readouterr().out.splitlines()] == [3, 6, 9]
    assert main(["audit", "export", "--format", "csv", "--collection", "staff", *args]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(table) == 5 and table[0]["hash"] and table[0]["requested_threshold"] == "80.0"
    since = "2027-01-15T08:00:00.005+00:00"  # 1_800_000_000_005 ms
    assert main(["audit", "export", "--since", since, *args]) == 0
    assert [json.loads(x)["seq"] for x in capsys.readouterr().out.splitlines()] == [
        5,
        6,
        7,
        8,
        9,
        10,
    ]
    assert main(["audit", "list", "--operation", "look_at_faces", *args]) == 1
    assert "unknown operation" in capsys.readouterr().err


def test_paging_covers_every_record_once(data_dir: Path) -> None:
    store = open_store(default_store_url(data_dir))
    try:
        trail, seen, after = AuditTrail(store.audit), [], None
        while True:
            records, after = trail.page(AuditQuery(), after, limit=4)
            seen += [(r.entry.account, r.seq) for r in records]
            if after is None:
                break
    finally:
        store.close()
    assert len(seen) == 13 and len(set(seen)) == 13


def test_operation_names_accept_both_spellings() -> None:
    assert operation_name("SearchUsersByImage") == "search_users_by_image"
    assert operation_name("delete_faces") == "delete_faces"


def test_an_identification_that_cannot_be_recorded_is_refused(data_dir: Path) -> None:
    store = open_store(default_store_url(data_dir))
    _tamper(data_dir, "DROP TABLE audit_records")  # every append now fails in SQLite
    ran: list[float] = []

    def search(threshold: float) -> list[str]:
        ran.append(threshold)
        return ["x"]

    try:
        with pytest.raises(StoreError, match="audit record could not be written"):
            identify(
                Rules(StoreAudit(store.audit)),
                Caller(),
                Identification.SEARCH_FACES,
                None,
                None,
                search,
                lambda found: Outcome(1, found),
            )
    finally:
        store.close()
    assert ran == [80.0]  # the search ran; its answer was withheld
