"""Stream processors on `facewise worker` processes, each on exactly one worker at a time.

A worker runs a processor only while it holds the processor's lease in the store (renewed
every few seconds, good for LEASE_MS). A worker that dies stops renewing; once its lease has
run out, the next worker with room takes the lease and the camera, so a processor is back
within about LEASE_MS plus the camera's start. A worker that finds its lease taken stops
its copy at once and leaves the status to the new owner.
"""

from __future__ import annotations

import logging
import threading
import time

from facewise.service.context import ServiceContext
from facewise.service.stream_runner import EmbeddedRunner, RecordEncoder, _Processor
from facewise.store.protocols import LeaseStore
from facewise.store.records import StreamProcessorRecord

log = logging.getLogger(__name__)

PROCESSOR_LEASE = "processor"
LEASE_MS = 15_000
RENEW_S = 5.0
RUNS = ("STARTING", "RUNNING")


def _lease_name(key: tuple[str, str]) -> str:
    """A processor's lease: ACCOUNT/NAME."""
    account, name = key
    return f"{account}/{name}"


class LeasedRunner(EmbeddedRunner):
    """The stream processors this worker holds the lease of.

    max_processors: processors one worker runs at most. Each reads a camera and analyses
        its newest frame on a thread, so a worker's cores bound how many it can keep up
        with; the rest wait for a worker with room.
    """

    def __init__(
        self,
        context: ServiceContext,
        encode: RecordEncoder,
        owner: str,
        max_processors: int = 4,
    ) -> None:
        super().__init__(context, encode)
        if context.lease_store is None:
            raise ValueError("leased stream processors need a lease store")
        self.leases: LeaseStore = context.lease_store
        self.owner = owner
        self.max_processors = max_processors
        self._quiet: dict[tuple[str, str], threading.Event] = {}
        self._renewed: dict[tuple[str, str], float] = {}

    def begin(self) -> LeasedRunner:
        """Start the supervisor (statuses are settled by the processors' owners, not by
        whichever worker starts)."""
        self._supervisor.start()
        return self

    def _reconcile(self) -> None:
        store = self.context.stream_store()
        records = store.processors()
        for record in records:
            running = self._running_as(record)
            if running is not None:
                if not self._stop_if_told(record, running):
                    self._renew(record, running)
            elif record.status == "STOPPING" and self._unowned(record):
                # Stopped while no worker ran it: settle it here.
                store.set_processor_status(
                    record.account, record.name, "STOPPED", None, only_if=("STOPPING",)
                )
            elif record.status in RUNS and self._has_room() and self._unowned(record):
                self._take(record)
        self._stop_deleted(records)

    def _renew(self, record: StreamProcessorRecord, processor: _Processor) -> None:
        """Renew a running processor's lease when due; stop it quietly if another worker
        took the lease."""
        key = processor.key
        if time.monotonic() - self._renewed.get(key, 0.0) < RENEW_S:
            return
        if self.leases.take_lease(PROCESSOR_LEASE, _lease_name(key), self.owner, LEASE_MS):
            self._renewed[key] = time.monotonic()
        else:
            log.warning("stream processor %s/%s was taken over by another worker", *key)
            self._quiet[key].set()
            processor.stop_event.set()

    def _take(self, record: StreamProcessorRecord) -> None:
        """Run the processor here if this worker gets its lease first."""
        key = (record.account, record.name)
        name = _lease_name(key)
        if not self.leases.take_lease(PROCESSOR_LEASE, name, self.owner, LEASE_MS):
            return
        log.info("taking stream processor %s", name)
        self._renewed[key] = time.monotonic()
        self._quiet[key] = threading.Event()
        self._launch(record, self._quiet[key])

    def _unowned(self, record: StreamProcessorRecord) -> bool:
        lease = _lease_name((record.account, record.name))
        return self.leases.lease_owner(PROCESSOR_LEASE, lease) is None

    def _has_room(self) -> bool:
        return len(self.running()) < self.max_processors

    def _done(self, processor: _Processor) -> None:
        super()._done(processor)
        quiet = self._quiet.pop(processor.key, None)
        self._renewed.pop(processor.key, None)
        if quiet is not None and quiet.is_set() and not self._closing.is_set():
            return  # another worker holds the lease now
        try:
            self.leases.release_lease(PROCESSOR_LEASE, _lease_name(processor.key), self.owner)
        except Exception:  # it runs out by itself
            log.warning("could not release the lease of %s/%s", *processor.key, exc_info=True)

    def close(self) -> None:
        """Stop every processor here, leaving its status for the next owner, and release
        the leases so another worker takes them at once."""
        for quiet in list(self._quiet.values()):
            quiet.set()
        super().close()
