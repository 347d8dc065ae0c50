"""Running stream processors inside the server: a supervisor thread starts the processors
the store says should run (STARTING, or RUNNING when the server starts) and stops the ones
being stopped; each processor reads its camera and analyses the newest frame on a thread
of its own, and writes one record per person per track to its data stream.

A track is reported once: as soon as the identity rule names someone (video/identity.py;
usually on its second searched frame, a fraction of a second after the face appears), or,
once ``embeddings_per_track`` of its frames have been searched without naming anyone, as
an unknown face (empty matches).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from facewise.errors import FacewiseError
from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.data_streams import DataStreams
from facewise.service.identify import Identification, Outcome, applied_threshold, identify
from facewise.service.notifications import post_to_topic
from facewise.service.results import FaceSearchMatch
from facewise.service.search import nearest_faces
from facewise.service.stream_processors import ProcessorSettings
from facewise.service.video_codec import identity_key
from facewise.store.protocols import StreamStore
from facewise.store.records import CollectionRecord, DataStream, StreamProcessorRecord, now_ms
from facewise.types import FaceAnalysis
from facewise.video.camera import CameraSource, RetryPolicy, SourceState
from facewise.video.identity import Vote, decide
from facewise.video.live import LiveAnalysis

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often the supervisor looks at the store (a stop from the CLI waits this)
MATCHES_PER_FRAME = 10


@dataclass(frozen=True)
class MatchEvent:
    """One person seen by a processor: the face as last seen, and who it is (if anyone)."""

    processor: StreamProcessorRecord
    settings: ProcessorSettings
    face: FaceAnalysis
    frame_wh: tuple[int, int]
    frame_number: int
    offset_ms: int  # since the processor started reading
    arrived_ms: int  # wall clock when the frame arrived
    track: int
    matches: list[FaceSearchMatch]
    first_seen_arrived_ms: int  # when the track's first frame arrived
    first_seen_media_ms: int  # that frame's time in its source


RecordEncoder = Callable[[MatchEvent], bytes]


@dataclass
class _Track:
    first_arrived_ms: int
    first_media_ms: int
    votes: list[Vote] = field(default_factory=list)
    faces: dict[str, FaceSearchMatch] = field(default_factory=dict)
    reported: bool = False


class _Processor:
    """One running processor: its camera, its analysis and its reports."""

    def __init__(
        self,
        context: ServiceContext,
        record: StreamProcessorRecord,
        encode: RecordEncoder,
        done: Callable[[_Processor], None],
        closing: threading.Event,
    ) -> None:
        self.context, self.record, self.encode, self.done = context, record, encode, done
        self.closing = closing  # set when the server stops: the status is left as it is
        self.key = (record.account, record.name)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"processor-{record.name}", daemon=True
        )
        self.source: CameraSource | None = None
        self.live: LiveAnalysis | None = None

    @property
    def store(self) -> StreamStore:
        return self.context.stream_store()

    def _status(self, status: str, message: str | None, only_if: tuple[str, ...] = ()) -> bool:
        account, name = self.key
        return bool(self.store.set_processor_status(account, name, status, message, only_if))

    def _run(self) -> None:
        final: tuple[str, str | None] = ("STOPPED", None)
        try:
            final = self._watch()
        except FacewiseError as error:
            final = ("FAILED", str(error)[:1000])
        except Exception:  # our bug: this processor fails, the server lives
            log.exception("stream processor %s failed", self.record.name)
            final = ("FAILED", "facewise failed while watching this camera; see its log")
        finally:
            if self.source is not None:
                self.source.close()
            status, message = final
            if not self.closing.is_set():
                self._status(status, message)
                self._notify(status, message)
            self.done(self)

    def _notify(self, status: str, message: str | None) -> None:
        """Tell the processor's topic (NotificationChannel) that it has stopped or failed."""
        topic_name = ProcessorSettings.from_json(self.record.settings).topic
        if self.context.jobs is None or topic_name is None:
            return
        body = {
            "StreamProcessorName": self.record.name,
            "SessionId": self.record.session_id,
            "Status": status,
            "StatusMessage": message or "",
            "Timestamp": now_ms(),
        }
        post_to_topic(self.context.jobs, self.record.account, topic_name, json.dumps(body).encode())

    def _watch(self) -> tuple[str, str | None]:
        account, record = self.record.account, self.record
        store, settings = self.store, ProcessorSettings.from_json(record.settings)
        camera = store.camera(account, record.camera)
        stream = store.data_stream(account, record.data_stream)
        collection = self.context.store.collection(account, record.collection)
        live_settings = self.context.live_settings
        config = live_settings.analysis
        threshold = applied_threshold(
            Identification.STREAM_FACE_SEARCH,
            settings.threshold,
            "face_match_threshold",
            self.context.policies.floor(account, collection),
        )
        states: list[tuple[SourceState, str | None]] = []
        state_lock = threading.Lock()

        def on_state(state: SourceState, message: str | None) -> None:
            with state_lock:
                states.append((state, message))

        self.source = CameraSource(
            camera.url,
            camera.loop,
            config.rate_fps,
            on_state,
            RetryPolicy(
                live_settings.first_connect_tries,
                live_settings.give_up_after_s,
                live_settings.retry_first_s,
                live_settings.retry_max_s,
            ),
        ).start()
        self.live = live = LiveAnalysis(
            self.context.analyzer, config, settings.regions, live_settings.motion_gating
        )
        tracks: dict[int, _Track] = {}
        writer = DataStreams(self.context, Caller(account))
        started = time.monotonic()
        settings_seen = record.settings
        while not self.stop_event.is_set():
            with state_lock:
                changes, states[:] = list(states), []
            for state, message in changes:
                if state is SourceState.CONNECTED:
                    self._status("RUNNING", None, only_if=("STARTING", "RUNNING"))
                elif state is SourceState.RETRYING:
                    self._status("RUNNING", message, only_if=("STARTING", "RUNNING"))
                elif state is SourceState.FAILED:
                    return "FAILED", message
                elif state is SourceState.ENDED:
                    return "STOPPED", "the camera's file has ended"
            limit = settings.max_duration_s
            if limit is not None and time.monotonic() - started >= limit:
                return "STOPPED", f"stopped after MaxDurationInSeconds ({limit} s)"
            frame = self.source.newest(timeout_s=0.2)
            if frame is None:
                continue
            current = store.processor(account, record.name)
            if current.settings != settings_seen:  # UpdateStreamProcessor: new regions
                settings_seen = current.settings
                settings = ProcessorSettings.from_json(current.settings)
                live.regions = settings.regions
            rgb = frame.sampled.rgb
            for found in live.process(frame.sampled):
                track = tracks.get(found.track)
                if track is None:
                    track = tracks[found.track] = _Track(frame.arrived_ms, frame.media_ms)
                if track.reported or found.sample is None:
                    continue
                hits = nearest_faces(
                    self.context, collection, found.sample.embedding, MATCHES_PER_FRAME, threshold
                )
                for hit in hits:
                    best = track.faces.get(hit.face.face_id)
                    if best is None or hit.similarity_pct > best.similarity_pct:
                        track.faces[hit.face.face_id] = hit
                track.votes.append(
                    Vote(
                        found.sample.weight,
                        [(identity_key(h.face), h.face.face_id, h.similarity_pct) for h in hits],
                    )
                )
                decision = decide(track.votes, config.identity)
                if decision is None and len(track.votes) < config.embeddings_per_track:
                    continue
                matches = []
                if decision is not None:
                    ranked = sorted(decision.faces.items(), key=lambda item: -item[1])
                    matches = [
                        FaceSearchMatch(track.faces[face_id].face, similarity)
                        for face_id, similarity in ranked
                    ]
                track.reported = True
                event = MatchEvent(
                    record,
                    settings,
                    found.face,
                    (rgb.shape[1], rgb.shape[0]),
                    frame.sampled.number,
                    frame.sampled.timestamp_ms,
                    frame.arrived_ms,
                    found.track,
                    matches,
                    track.first_arrived_ms,
                    track.first_media_ms,
                )
                self._report(writer, stream, collection, event, len(track.votes))
            for ended in live.ended:
                tracks.pop(ended, None)
        return "STOPPED", None

    def _report(
        self,
        writer: DataStreams,
        stream: DataStream,
        collection: CollectionRecord,
        event: MatchEvent,
        searched: int,
    ) -> None:
        """Write the event to the data stream, as an audited identification."""
        settings = event.settings
        identify(
            self.context.rules,
            Caller(event.processor.account, event.processor.started_by),
            Identification.STREAM_FACE_SEARCH,
            collection,
            settings.threshold,
            lambda applied: event.matches,
            lambda matches: Outcome(searched, sorted({m.face.face_id for m in matches})),
        )
        writer.put(stream, event.processor.camera, self.encode(event))


class EmbeddedRunner:
    """Stream processors on threads of this process (the ProcessorRunner of the server)."""

    def __init__(self, context: ServiceContext, encode: RecordEncoder) -> None:
        self.context, self.encode = context, encode
        self._running: dict[tuple[str, str], _Processor] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="processors", daemon=True)

    def begin(self) -> EmbeddedRunner:
        """Start the supervisor: processors left RUNNING or STARTING run again, ones left
        STOPPING or UPDATING are settled."""
        store = self.context.stream_store()
        for record in store.processors():
            if record.status == "STOPPING":
                store.set_processor_status(record.account, record.name, "STOPPED", None)
            elif record.status == "UPDATING":
                store.set_processor_status(record.account, record.name, "RUNNING", None)
            if record.status in ("RUNNING", "UPDATING"):
                store.set_processor_status(
                    record.account, record.name, "STARTING", "restarted with the server"
                )
        self._supervisor.start()
        return self

    def start(self, account: str, name: str) -> None:
        self._wake.set()

    def stop(self, account: str, name: str) -> None:
        with self._lock:
            running = self._running.get((account, name))
        if running is not None:
            running.stop_event.set()
        self._wake.set()

    def running(self) -> list[_Processor]:
        with self._lock:
            return list(self._running.values())

    def close(self) -> None:
        """Stop every processor, leaving their status RUNNING for the next start."""
        self._closing.set()
        self._wake.set()
        for processor in self.running():
            processor.stop_event.set()
        for processor in self.running():
            processor.thread.join(5.0)
        self._supervisor.join(2.0)

    def _done(self, processor: _Processor) -> None:
        with self._lock:
            if self._running.get(processor.key) is processor:
                del self._running[processor.key]
        self._wake.set()

    def _launch(self, record: StreamProcessorRecord, quiet: threading.Event) -> None:
        """Run the processor on a thread of its own; once ``quiet`` is set, its end leaves
        its status as it is (for whoever runs it next)."""
        processor = _Processor(self.context, record, self.encode, self._done, quiet)
        with self._lock:
            self._running[processor.key] = processor
        processor.thread.start()

    def _supervise(self) -> None:
        while not self._closing.is_set():
            try:
                self._reconcile()
            except Exception:  # the store was busy: look again at the next poll
                log.exception("stream processor supervisor")
            self._wake.wait(POLL_S)
            self._wake.clear()

    def _reconcile(self) -> None:
        records = self.context.stream_store().processors()
        for record in records:
            running = self._running_as(record)
            if running is not None:
                self._stop_if_told(record, running)
            elif record.status == "STARTING":
                self._launch(record, self._closing)
        self._stop_deleted(records)

    def _running_as(self, record: StreamProcessorRecord) -> _Processor | None:
        """The processor of this record running here, if any."""
        with self._lock:
            return self._running.get((record.account, record.name))

    @staticmethod
    def _stop_if_told(record: StreamProcessorRecord, processor: _Processor) -> bool:
        """Stop a running processor the store says is stopping or ended, or that was started
        again since (a new session); whether it was told to stop."""
        told = record.status in ("STOPPING", "STOPPED", "FAILED") or (
            record.session_id != processor.record.session_id
        )
        if told:
            processor.stop_event.set()
        return told

    def _stop_deleted(self, records: list[StreamProcessorRecord]) -> None:
        """Stop the processors running here that the store no longer has."""
        known = {(r.account, r.name) for r in records}
        for processor in self.running():
            if processor.key not in known:
                processor.stop_event.set()
