"""Data streams: where stream processors write their match records, read as Kinesis data
streams are (one shard; GetShardIterator + GetRecords) and forwarded to sinks.

Sequence numbers are decimal strings counting from 1; a shard iterator is an opaque token
holding the stream, the next sequence number and when it was issued.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, replace

from facewise.errors import ExpiredIteratorError, InvalidParameterError
from facewise.service.arns import DEFAULT_REGION, data_stream_arn
from facewise.service.options import parse_limit, parse_name
from facewise.service.scope import AccountService
from facewise.service.stream_sinks import Forwarder, Sinks, parse_sinks
from facewise.store.protocols import StreamStore
from facewise.store.records import DataStream, StreamRecord, now_ms

STREAM_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,128}")  # Kinesis stream names
SHARD_ID = "shardId-000000000000"
MAX_RECORDS = 10_000  # Kinesis' largest GetRecords
TRIM_EVERY = 100  # records appended between retention sweeps
ITERATOR_TYPES = (
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
)


@dataclass(frozen=True)
class DataStreamInfo:
    stream: DataStream
    sinks: Sinks
    oldest_seq: int
    newest_seq: int


@dataclass(frozen=True)
class RecordsPage:
    """GetRecords' answer: records, where to read next, and how far behind the newest."""

    records: list[StreamRecord]
    next_iterator: str
    millis_behind: int


# One forwarder per data stream of each open store, made on first use.
_FORWARDERS: dict[tuple[int, int], Forwarder] = {}
_FORWARDERS_LOCK = threading.Lock()


def forward(store: StreamStore, stream: DataStream, data: bytes) -> None:
    """Hand a record to the stream's sinks, in order, in the background."""
    sinks = Sinks.from_json(stream.sinks)
    if not sinks.any:
        return
    key = (id(store), stream.row_id)
    with _FORWARDERS_LOCK:
        forwarder = _FORWARDERS.get(key)
        if forwarder is None or forwarder.sinks != sinks:
            if forwarder is not None:
                forwarder.close(timeout_s=0.5)
            forwarder = _FORWARDERS[key] = Forwarder(stream.name, sinks)
    forwarder.offer(data)


def close_forwarders() -> None:
    """Forward what is queued, then stop every forwarder (the server's shutdown)."""
    with _FORWARDERS_LOCK:
        for forwarder in _FORWARDERS.values():
            forwarder.close()
        _FORWARDERS.clear()


def _encode_iterator(account: str, stream: DataStream, next_seq: int) -> str:
    raw = json.dumps(
        {"a": account, "s": stream.row_id, "n": stream.name, "q": next_seq, "t": now_ms()},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode()


def parse_seq(value: object) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"0|[1-9][0-9]{0,30}", value):
        raise InvalidParameterError(f"{value!r} is not a sequence number of this stream")
    return int(value)


class DataStreams(AccountService):
    """Create, read and delete the caller's data streams."""

    @property
    def store(self) -> StreamStore:
        return self.context.stream_store()

    def create(
        self,
        name: str,
        retention_hours: float | None = None,
        webhook: str | None = None,
        mqtt: str | None = None,
        jsonl: str | None = None,
        redis: str | None = None,
    ) -> DataStream:
        """A data stream (ResourceInUseError if the name is taken), forwarding each record
        to the sinks given (see stream_sinks.py)."""
        name = parse_name("stream name", name, STREAM_NAME)
        retention_ms = self._retention(retention_hours)
        sinks = parse_sinks(webhook, mqtt, jsonl, redis=redis)
        return self.store.create_data_stream(self.account, name, retention_ms, sinks.to_json())

    def _retention(self, hours: float | None) -> int:
        if hours is None:
            return self.context.live_settings.record_retention_ms
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 8760:
            raise InvalidParameterError(f"retention must be 0-8760 hours, got {hours!r}")
        return int(hours * 3600 * 1000)

    def set_sinks(
        self,
        name: str,
        webhook: str | None = None,
        mqtt: str | None = None,
        jsonl: str | None = None,
        redis: str | None = None,
    ) -> DataStream:
        """Replace where the stream's records are forwarded (None: nowhere)."""
        stream = self.get(name)
        old = Sinks.from_json(stream.sinks)
        secret = old.webhook_secret if webhook == old.webhook_url else None
        sinks = parse_sinks(webhook, mqtt, jsonl, secret, redis=redis)
        updated = replace(stream, sinks=sinks.to_json())
        self.store.update_data_stream(updated)
        return updated

    def get(self, name: str) -> DataStream:
        return self.store.data_stream(self.account, parse_name("stream name", name, STREAM_NAME))

    def describe(self, name: str) -> DataStreamInfo:
        stream = self.get(name)
        oldest, newest = self.store.record_bounds(stream.row_id)
        return DataStreamInfo(stream, Sinks.from_json(stream.sinks), oldest, newest)

    def list(self) -> list[DataStream]:
        return self.store.data_streams(self.account)

    def delete(self, name: str) -> None:
        """Delete the stream and its records (ResourceInUseError while a processor writes)."""
        self.store.delete_data_stream(self.account, name)

    def arn(self, stream: DataStream, region: str = DEFAULT_REGION) -> str:
        return data_stream_arn(region, self.context.account_id(self.account), stream.name)

    # -- writing -----------------------------------------------------------------------------

    def put(self, stream: DataStream, partition_key: str, data: bytes) -> StreamRecord:
        """Append a record (readable at once) and forward it to the stream's sinks."""
        record = self.store.append_record(stream.row_id, partition_key, data)
        if record.seq % TRIM_EVERY == 0:
            self.store.trim_records(stream.row_id, now_ms() - stream.retention_ms)
        forward(self.store, stream, data)
        return record

    # -- reading, as Kinesis consumers do ----------------------------------------------------

    def shard_iterator(
        self,
        name: str,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp_ms: int | None = None,
    ) -> str:
        stream = self.get(name)
        if shard_id != SHARD_ID:
            raise InvalidParameterError(f"the stream has one shard, {SHARD_ID}")
        oldest, newest = self.store.record_bounds(stream.row_id)
        if iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence_number is None:
                raise InvalidParameterError(f"{iterator_type} needs a StartingSequenceNumber")
            start = parse_seq(sequence_number) + (iterator_type == "AFTER_SEQUENCE_NUMBER")
        elif iterator_type == "TRIM_HORIZON":
            start = max(oldest, 1)
        elif iterator_type == "LATEST":
            start = newest + 1
        elif iterator_type == "AT_TIMESTAMP":
            if timestamp_ms is None:
                raise InvalidParameterError("AT_TIMESTAMP needs a Timestamp")
            found = self.store.first_seq_at(stream.row_id, timestamp_ms)
            start = newest + 1 if found is None else found
        else:
            raise InvalidParameterError(f"ShardIteratorType must be one of {ITERATOR_TYPES}")
        return _encode_iterator(self.account, stream, start)

    def records(self, iterator: str, limit: int | None = None) -> RecordsPage:
        count = parse_limit("limit", limit, 1, MAX_RECORDS, MAX_RECORDS)
        account, row_id, name, next_seq, issued_ms = self._decode(iterator)
        lifetime_ms = self.context.live_settings.iterator_lifetime_s * 1000
        if now_ms() - issued_ms > lifetime_ms:
            raise ExpiredIteratorError("the shard iterator has expired; get a new one")
        stream = self.get(name)
        if account != self.account or stream.row_id != row_id:
            raise InvalidParameterError("the shard iterator belongs to another stream")
        records = self.store.records(row_id, next_seq, count)
        after = records[-1].seq + 1 if records else next_seq
        newest = records[-1] if records else None
        _, last = self.store.record_bounds(row_id)
        behind = 0
        if newest is not None and newest.seq < last:
            behind = max(0, now_ms() - newest.arrival_ms)
        return RecordsPage(records, _encode_iterator(self.account, stream, after), behind)

    @staticmethod
    def _decode(iterator: str) -> tuple[str, int, str, int, int]:
        try:
            data = json.loads(base64.urlsafe_b64decode(iterator.encode()))
            fields = (data["a"], data["s"], data["n"], data["q"], data["t"])
        except (ValueError, KeyError, TypeError, UnicodeError, AttributeError):
            raise InvalidParameterError("the shard iterator is not valid") from None
        account, row_id, name, seq, issued = fields
        if not (
            isinstance(account, str)
            and isinstance(name, str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in (row_id, seq, issued))
        ):
            raise InvalidParameterError("the shard iterator is not valid")
        return account, row_id, name, seq, issued
