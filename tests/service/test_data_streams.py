"""Data streams in the library: records appended and read as Kinesis consumers read them
(every iterator type), retention, sinks, and accounts' 12-digit ids."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from facewise.errors import (
    ExpiredIteratorError,
    InvalidParameterError,
    ResourceInUseError,
    ResourceNotFoundError,
)
from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.data_streams import SHARD_ID, DataStreams
from tests.live.engines import RedisServer


@pytest.fixture
def context(tmp_path: Path) -> Iterator[ServiceContext]:
    with ServiceContext.open(tmp_path) as opened:
        yield opened


def _read(streams: DataStreams, name: str, kind: str, **where: object) -> list[bytes]:
    iterator = streams.shard_iterator(name, SHARD_ID, kind, **where)  # type: ignore[arg-type]
    return [r.data for r in streams.records(iterator).records]


def test_every_iterator_type(context: ServiceContext) -> None:
    streams = DataStreams(context, Caller())
    stream = streams.create("door")
    first = streams.put(stream, "cam", b"one")
    latest = streams.shard_iterator("door", SHARD_ID, "LATEST")
    time.sleep(0.01)
    middle_ms = int(time.time() * 1000)
    second = streams.put(stream, "cam", b"two")
    streams.put(stream, "cam", b"three")
    assert (first.seq, second.seq) == (1, 2)
    assert _read(streams, "door", "TRIM_HORIZON") == [b"one", b"two", b"three"]
    assert [r.data for r in streams.records(latest).records] == [b"two", b"three"]
    assert _read(streams, "door", "AT_SEQUENCE_NUMBER", sequence_number="2") == [b"two", b"three"]
    assert _read(streams, "door", "AFTER_SEQUENCE_NUMBER", sequence_number="2") == [b"three"]
    assert _read(streams, "door", "AT_TIMESTAMP", timestamp_ms=middle_ms) == [b"two", b"three"]
    page = streams.records(streams.shard_iterator("door", SHARD_ID, "TRIM_HORIZON"), limit=2)
    assert [r.data for r in page.records] == [b"one", b"two"]
    assert [r.data for r in streams.records(page.next_iterator).records] == [b"three"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (
            lambda s: s.shard_iterator("door", "shardId-000000000001", "LATEST"),
            InvalidParameterError,
        ),
        (lambda s: s.shard_iterator("door", SHARD_ID, "SOMEWHERE"), InvalidParameterError),
        (lambda s: s.shard_iterator("door", SHARD_ID, "AT_SEQUENCE_NUMBER"), InvalidParameterError),
        (
            lambda s: s.shard_iterator("door", SHARD_ID, "AT_SEQUENCE_NUMBER", "01"),
            InvalidParameterError,
        ),
        (lambda s: s.shard_iterator("absent", SHARD_ID, "LATEST"), ResourceNotFoundError),
        (lambda s: s.records("bm90IGFuIGl0ZXJhdG9y"), InvalidParameterError),
        (lambda s: s.create("door"), ResourceInUseError),
        (lambda s: s.create("bad name!"), InvalidParameterError),
        (lambda s: s.create("other", retention_hours=0), InvalidParameterError),
        (lambda s: s.create("other", webhook="ftp://x"), InvalidParameterError),
        (lambda s: s.create("other", mqtt="mqtt://host"), InvalidParameterError),
    ],
)
def test_refusals(context: ServiceContext, call, error: type[Exception]) -> None:  # type: ignore[no-untyped-def]
    streams = DataStreams(context, Caller())
    streams.create("door")
    with pytest.raises(error):
        call(streams)


def test_an_iterator_is_the_account_s_own_and_expires(context: ServiceContext) -> None:
    mine, theirs = DataStreams(context, Caller()), DataStreams(context, Caller("other"))
    mine.create("door")
    theirs.create("door")
    iterator = mine.shard_iterator("door", SHARD_ID, "TRIM_HORIZON")
    with pytest.raises(InvalidParameterError):
        theirs.records(iterator)
    context.live_settings = dataclasses.replace(context.live_settings, iterator_lifetime_s=0.0)
    time.sleep(0.01)
    with pytest.raises(ExpiredIteratorError):
        mine.records(iterator)


def test_retention_keeps_the_newest(context: ServiceContext) -> None:
    streams = DataStreams(context, Caller())
    stream = streams.create("door", retention_hours=0.000001)  # 3.6 ms
    for number in range(100):
        streams.put(stream, "cam", str(number).encode())
        time.sleep(0.001)
    kept = _read(streams, "door", "TRIM_HORIZON")
    assert kept[-1] == b"99" and len(kept) < 100
    assert streams.put(stream, "cam", b"next").seq == 101


def test_records_are_forwarded_to_a_json_lines_file(
    context: ServiceContext, tmp_path: Path
) -> None:
    streams = DataStreams(context, Caller())
    stream = streams.create("door", jsonl=str(tmp_path / "door.jsonl"))
    for number in range(3):
        streams.put(stream, "cam", json.dumps({"n": number, "text": "a\nb"}).encode())
    deadline = time.monotonic() + 5
    lines: list[str] = []
    while time.monotonic() < deadline and len(lines) < 3:
        lines = (
            (tmp_path / "door.jsonl").read_text().splitlines()
            if (tmp_path / "door.jsonl").exists()
            else []
        )
        time.sleep(0.05)
    assert [json.loads(line)["n"] for line in lines] == [0, 1, 2]


def test_records_are_added_to_a_redis_stream(context: ServiceContext, redis: RedisServer) -> None:
    import redis as redis_client

    streams = DataStreams(context, Caller())
    stream = streams.create("door", redis=f"{redis.url}/facewise.door")
    for number in range(3):
        streams.put(stream, "cam", json.dumps({"n": number}).encode())
    reader = redis_client.Redis.from_url(redis.url)
    deadline = time.monotonic() + 5
    while reader.xlen("facewise.door") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    entries = reader.xrange("facewise.door")
    assert [json.loads(fields[b"data"])["n"] for _, fields in entries] == [0, 1, 2]
    with pytest.raises(InvalidParameterError):
        streams.create("bad", redis=f"{redis.url}")  # no stream key


def test_accounts_get_stable_distinct_twelve_digit_ids(context: ServiceContext) -> None:
    first, other = context.account_id("default"), context.account_id("other")
    assert len(first) == 12 and first.isdigit() and first != other
    assert context.account_id("default") == first
    store = context.stream_store()
    assert store.account_named_by(first) == "default"
