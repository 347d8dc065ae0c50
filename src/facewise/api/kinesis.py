"""The Kinesis Data Streams protocol (AWS JSON 1.1, ``X-Amz-Target: Kinesis_20131202.<Op>``,
SigV4 for the ``kinesis`` service) over facewise's data streams, so consumer code reads
stream processor records unchanged: DescribeStream, DescribeStreamSummary, ListShards,
GetShardIterator, GetRecords, ListStreams, plus CreateStream, DeleteStream and PutRecord.

Every data stream has one shard (``shardId-000000000000``) and is ACTIVE from creation.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

from botocore.model import OperationModel, ServiceModel

from facewise import errors as core
from facewise.api import errors
from facewise.api.handlers.call import Call, Json
from facewise.service.arns import name_in_arn
from facewise.service.data_streams import SHARD_ID, DataStreamInfo, DataStreams
from facewise.service.pagination import decode_token, encode_token

KINESIS_SERVICE = "kinesis"
KINESIS_TARGET_PREFIX = "Kinesis_20131202."
LAST_HASH_KEY = str(2**128 - 1)

InvalidArgument = errors.InvalidArgument
ExpiredIterator = errors.ExpiredIterator

KINESIS_ERRORS: dict[type[core.FacewiseError], type[errors.AwsError]] = {
    core.InvalidParameterError: InvalidArgument,
    core.InvalidPaginationTokenError: InvalidArgument,
    core.ResourceNotFoundError: errors.ResourceNotFound,
    core.ResourceInUseError: errors.ResourceInUse,
    core.ExpiredIteratorError: ExpiredIterator,
}


def from_core(error: core.FacewiseError) -> errors.AwsError:
    """Kinesis' name for a core error (Rekognition's table for the rest)."""
    for kind in type(error).__mro__:
        wire = KINESIS_ERRORS.get(kind)
        if wire is not None:
            return wire(str(error))
    return errors.from_core(error)


@functools.cache
def kinesis_model() -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model(KINESIS_SERVICE)


def kinesis_operation(name: str) -> OperationModel | None:
    model = kinesis_model()
    return model.operation_model(name) if name in model.operation_names else None


def _shard(info: DataStreamInfo) -> Json:
    return {
        "ShardId": SHARD_ID,
        "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": LAST_HASH_KEY},
        "SequenceNumberRange": {"StartingSequenceNumber": str(max(info.oldest_seq, 1))},
    }


class KinesisHandlers:
    """One method per supported Kinesis operation (snake_case of its name)."""

    def __init__(self, call: Call) -> None:
        self.streams = DataStreams(call.context, call.caller)
        self.call = call

    def _name(self, params: Json) -> str:
        if "StreamARN" in params:
            arn = params["StreamARN"]
            return name_in_arn(arn, "kinesis", self.call.account_id, "Kinesis data stream")
        if "StreamName" not in params:
            raise InvalidArgument("StreamName or StreamARN is required")
        return str(params["StreamName"])

    def _summary(self, info: DataStreamInfo) -> Json:
        stream = info.stream
        return {
            "StreamName": stream.name,
            "StreamARN": self.streams.arn(stream, self.call.region),
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "RetentionPeriodHours": max(1, round(stream.retention_ms / 3_600_000)),
            "StreamCreationTimestamp": stream.created_at_ms / 1000.0,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
        }

    def describe_stream(self, params: Json) -> Json:
        info = self.streams.describe(self._name(params))
        described = self._summary(info) | {"Shards": [_shard(info)], "HasMoreShards": False}
        if params.get("ExclusiveStartShardId") == SHARD_ID:
            described["Shards"] = []
        return {"StreamDescription": described}

    def describe_stream_summary(self, params: Json) -> Json:
        info = self.streams.describe(self._name(params))
        summary = self._summary(info) | {"OpenShardCount": 1, "ConsumerCount": 0}
        return {"StreamDescriptionSummary": summary}

    def list_shards(self, params: Json) -> Json:
        info = self.streams.describe(self._name(params))
        shards = [] if params.get("ExclusiveStartShardId") == SHARD_ID else [_shard(info)]
        return {"Shards": shards}

    def get_shard_iterator(self, params: Json) -> Json:
        when = params.get("Timestamp")
        iterator = self.streams.shard_iterator(
            self._name(params),
            params["ShardId"],
            params["ShardIteratorType"],
            params.get("StartingSequenceNumber"),
            None if when is None else int(float(when) * 1000),
        )
        return {"ShardIterator": iterator}

    def get_records(self, params: Json) -> Json:
        page = self.streams.records(params["ShardIterator"], params.get("Limit"))
        return {
            "Records": [
                {
                    "SequenceNumber": str(r.seq),
                    "ApproximateArrivalTimestamp": r.arrival_ms / 1000.0,
                    "Data": base64.b64encode(r.data).decode(),
                    "PartitionKey": r.partition_key,
                }
                for r in page.records
            ],
            "NextShardIterator": page.next_iterator,
            "MillisBehindLatest": page.millis_behind,
        }

    def list_streams(self, params: Json) -> Json:
        names = [s.name for s in self.streams.list()]
        after = params.get("ExclusiveStartStreamName")
        if "NextToken" in params:
            after = decode_token("streams", params["NextToken"])
        names = [n for n in names if after is None or n > after]
        limit = int(params.get("Limit", 100))
        shown, more = names[:limit], len(names) > limit
        answer: Json = {
            "StreamNames": shown,
            "HasMoreStreams": more,
            "StreamSummaries": [self._list_summary(n) for n in shown],
        }
        if more and shown:
            answer["NextToken"] = encode_token("streams", shown[-1])
        return answer

    def _list_summary(self, name: str) -> Json:
        stream = self.streams.get(name)
        return {
            "StreamName": stream.name,
            "StreamARN": self.streams.arn(stream, self.call.region),
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "StreamCreationTimestamp": stream.created_at_ms / 1000.0,
        }

    def create_stream(self, params: Json) -> Json:
        if params.get("ShardCount", 1) != 1:
            raise InvalidArgument("facewise data streams have one shard: ShardCount must be 1")
        self.streams.create(params["StreamName"])
        return {}

    def delete_stream(self, params: Json) -> Json:
        self.streams.delete(self._name(params))
        return {}

    def put_record(self, params: Json) -> Json:
        stream = self.streams.get(self._name(params))
        key = params.get("PartitionKey")
        if not isinstance(key, str) or not 1 <= len(key) <= 256:
            raise InvalidArgument("PartitionKey must be 1-256 characters")
        data: Any = params["Data"]
        record = self.streams.put(stream, key, bytes(data))
        return {"ShardId": SHARD_ID, "SequenceNumber": str(record.seq)}
