"""Stream processors (Rekognition's CreateStreamProcessor ... DeleteStreamProcessor): a
camera watched for the faces of a collection, each person reported once per track to a
data stream.

Statuses: STOPPED → (start) STARTING → RUNNING → (stop) STOPPING → STOPPED; FAILED when the
camera cannot be read (StatusMessage says why). A processor runs inside ``facewise serve``:
starting one from the CLI while no server runs leaves it STARTING until a server does.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from facewise.errors import InvalidParameterError, ResourceInUseError
from facewise.service.arns import DEFAULT_REGION, name_in_arn, processor_arn
from facewise.service.identify import Identification, applied_threshold
from facewise.service.notifications import Topics
from facewise.service.options import parse_limit, parse_name, parse_tags
from facewise.service.pagination import Page, decode_token, paginate
from facewise.service.scope import AccountService
from facewise.store.protocols import StreamStore
from facewise.store.records import StreamProcessorRecord, now_ms
from facewise.video.live import RegionOfInterest, check_regions

PROCESSOR_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,128}")
ACTIVE = ("STARTING", "RUNNING", "STOPPING", "UPDATING")
MAX_DURATION_S = 2 * 24 * 3600  # Rekognition's longest StopSelector.MaxDurationInSeconds


@dataclass(frozen=True)
class ProcessorSettings:
    """What a processor was created with, beyond its camera, data stream and collection."""

    threshold: float | None = None
    regions: tuple[RegionOfInterest, ...] = ()
    topic: str | None = None
    role_arn: str | None = None
    kms_key_id: str | None = None
    data_sharing: bool = False
    max_duration_s: int | None = None
    started_ms: int | None = None
    input_arn: str = ""
    output_arn: str = ""

    def to_json(self) -> str:
        data: dict[str, Any] = dict(self.__dict__)
        data["regions"] = [
            {"box": r.box_ltwh} if r.box_ltwh is not None else {"polygon": r.polygon_xy}
            for r in self.regions
        ]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProcessorSettings:
        data = json.loads(text)
        data["regions"] = tuple(
            RegionOfInterest(box_ltwh=tuple(r["box"]))
            if "box" in r
            else RegionOfInterest(polygon_xy=tuple(tuple(p) for p in r["polygon"]))
            for r in data.get("regions", [])
        )
        return cls(**data)


@dataclass(frozen=True)
class ProcessorInfo:
    record: StreamProcessorRecord
    settings: ProcessorSettings
    tags: dict[str, str] = field(default_factory=dict)


class StreamProcessors(AccountService):
    """Create, run and delete the caller's stream processors."""

    @property
    def store(self) -> StreamStore:
        return self.context.stream_store()

    def _name(self, name: object) -> str:
        return parse_name("stream processor name", name, PROCESSOR_NAME)

    def create(
        self,
        name: str,
        camera_arn: str,
        data_stream_arn: str,
        collection_id: str,
        face_match_threshold: float | None = None,
        regions: list[RegionOfInterest] | None = None,
        notification_topic_arn: str | None = None,
        tags: dict[str, str] | None = None,
        role_arn: str | None = None,
        kms_key_id: str | None = None,
        data_sharing: bool = False,
    ) -> StreamProcessorRecord:
        """A STOPPED processor watching a registered camera (named by its Kinesis video
        stream ARN) for faces of the collection, writing to a data stream (its Kinesis data
        stream ARN). ResourceInUseError when the name is taken."""
        name = self._name(name)
        account_id = self.context.account_id(self.account)
        camera = name_in_arn(camera_arn, "kinesisvideo", account_id, "Kinesis video stream")
        output = name_in_arn(data_stream_arn, "kinesis", account_id, "Kinesis data stream")
        store = self.store
        for lookup, what, hint in (
            (store.camera, "camera", "facewise cameras add NAME --url URL"),
            (store.data_stream, "data stream", "facewise data-streams create NAME"),
        ):
            try:
                lookup(self.account, camera if what == "camera" else output)
            except LookupError:
                raise InvalidParameterError(
                    f"no {what} {camera if what == 'camera' else output!r}: add it with `{hint}`"
                ) from None
        record = self.searchable_collection(collection_id)
        if face_match_threshold is not None:
            applied_threshold(
                Identification.STREAM_FACE_SEARCH, face_match_threshold, "face_match_threshold"
            )
        topic = None
        if notification_topic_arn is not None:
            topic = Topics(self.context, self.caller).by_arn(notification_topic_arn)
        settings = ProcessorSettings(
            threshold=face_match_threshold,
            regions=check_regions(regions or []),
            topic=topic,
            role_arn=role_arn,
            kms_key_id=kms_key_id,
            data_sharing=bool(data_sharing),
            input_arn=camera_arn,
            output_arn=data_stream_arn,
        )
        created = now_ms()
        processor = StreamProcessorRecord(
            account=self.account,
            name=name,
            camera=camera,
            data_stream=output,
            collection=record.name,
            settings=settings.to_json(),
            tags=json.dumps(parse_tags(tags)),
            status="STOPPED",
            status_message=None,
            created_at_ms=created,
            updated_at_ms=created,
        )
        store.create_processor(processor)
        return processor

    def describe(self, name: str) -> ProcessorInfo:
        record = self.store.processor(self.account, self._name(name))
        return ProcessorInfo(record, ProcessorSettings.from_json(record.settings), self.tags(name))

    def list_processors(
        self, max_results: int | None = None, next_token: str | None = None
    ) -> Page[StreamProcessorRecord]:
        limit = parse_limit("max_results", max_results, 1, 1000, 1000)
        after = decode_token("stream-processors", next_token)
        rows = [p for p in self.store.processors(self.account) if after is None or p.name > after]
        return paginate("stream-processors", rows[: limit + 1], limit, lambda p: p.name)

    def arn(self, name: str, region: str = DEFAULT_REGION) -> str:
        return processor_arn(region, self.context.account_id(self.account), name)

    def start(self, name: str, max_duration_s: int | None = None) -> str:
        """Start watching (STARTING, then RUNNING once the camera answers); returns the
        session id. ResourceInUseError unless the processor is STOPPED or FAILED."""
        record = self.store.processor(self.account, self._name(name))
        if max_duration_s is not None:
            if isinstance(max_duration_s, bool) or not isinstance(max_duration_s, int):
                raise InvalidParameterError("MaxDurationInSeconds must be a whole number")
            if not 1 <= max_duration_s <= MAX_DURATION_S:
                raise InvalidParameterError(f"MaxDurationInSeconds must be 1-{MAX_DURATION_S}")
        if record.status not in ("STOPPED", "FAILED"):
            raise ResourceInUseError(f"stream processor {name!r} is {record.status}")
        settings = replace(
            ProcessorSettings.from_json(record.settings),
            max_duration_s=max_duration_s,
            started_ms=now_ms(),
        )
        session = str(uuid.uuid4())
        self.store.save_processor(
            replace(
                record,
                settings=settings.to_json(),
                status="STARTING",
                status_message=None,
                updated_at_ms=now_ms(),
                session_id=session,
                started_by=self.caller.access_key_id,
            )
        )
        if self.context.live is not None:
            self.context.live.start(self.account, record.name)
        return session

    def stop(self, name: str) -> None:
        """Stop watching; ResourceInUseError unless it is STARTING or RUNNING."""
        record = self.store.processor(self.account, self._name(name))
        stopped = self.store.set_processor_status(
            self.account, record.name, "STOPPING", None, only_if=("STARTING", "RUNNING")
        )
        if not stopped:
            raise ResourceInUseError(f"stream processor {name!r} is {record.status}, not running")
        if self.context.live is not None:
            self.context.live.stop(self.account, record.name)

    def update(
        self,
        name: str,
        regions: list[RegionOfInterest] | None = None,
        data_sharing: bool | None = None,
        parameters_to_delete: list[str] | None = None,
    ) -> None:
        """Change the regions of interest or the data-sharing choice (a running processor
        applies new regions within a second)."""
        record = self.store.processor(self.account, self._name(name))
        if record.status in ("STOPPING", "UPDATING"):
            raise ResourceInUseError(f"stream processor {name!r} is {record.status}")
        settings = ProcessorSettings.from_json(record.settings)
        if regions is not None:
            settings = replace(settings, regions=check_regions(regions))
        if "RegionsOfInterest" in (parameters_to_delete or []):
            settings = replace(settings, regions=())
        if data_sharing is not None:
            settings = replace(settings, data_sharing=bool(data_sharing))
        store, status = self.store, record.status
        updating = store.set_processor_status(
            self.account, record.name, "UPDATING", record.status_message, only_if=(status,)
        )
        store.update_processor(self.account, record.name, settings.to_json(), record.tags)
        if updating:
            store.set_processor_status(
                self.account, record.name, status, record.status_message, only_if=("UPDATING",)
            )

    def delete(self, name: str) -> None:
        """Delete a processor that is not running (ResourceInUseError otherwise)."""
        record = self.store.processor(self.account, self._name(name))
        if record.status in ACTIVE:
            raise ResourceInUseError(
                f"stream processor {name!r} is {record.status}; stop it before deleting it"
            )
        self.store.delete_processor(self.account, record.name)

    # -- tags --------------------------------------------------------------------------------

    def tags(self, name: str) -> dict[str, str]:
        record = self.store.processor(self.account, self._name(name))
        loaded: dict[str, str] = json.loads(record.tags)
        return loaded

    def tag(self, name: str, tags: dict[str, str]) -> None:
        record = self.store.processor(self.account, self._name(name))
        merged = parse_tags(json.loads(record.tags) | parse_tags(tags))
        self.store.update_processor(self.account, record.name, record.settings, json.dumps(merged))

    def untag(self, name: str, keys: list[str]) -> None:
        record = self.store.processor(self.account, self._name(name))
        kept = {k: v for k, v in json.loads(record.tags).items() if k not in set(keys)}
        self.store.update_processor(self.account, record.name, record.settings, json.dumps(kept))
