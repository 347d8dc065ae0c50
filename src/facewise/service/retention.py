"""Retention: a collection's policy may give a maximum face age, and a sweeper inside the
server deletes older faces for good (service/erasure.py), each pass audited as
``expire_faces`` erasures. Each pass also frees the indexes of collections other processes
deleted.

    sweeper = RetentionSweeper(context).start()   # a pass every ``every_s`` seconds
    sweeper.sweep()                                # or one pass now (tests pass a clock)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from facewise.errors import FacewiseError
from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.erasure import erase_faces, scrub
from facewise.service.identify import Erasure
from facewise.store.records import now_ms

log = logging.getLogger(__name__)
BATCH = 1000  # faces deleted per transaction: larger passes hold the writer longer


class RetentionSweeper:
    """Deletes faces past their collection's maximum age.

    every_s: seconds between passes; a face outlives its maximum age by up to this much.
        Shorter costs one small indexed query per collection with a retention per pass.
    clock: the time in ms (tests pass a fake one).
    """

    def __init__(
        self,
        context: ServiceContext,
        every_s: float = 60.0,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.context = context
        self.every_s = every_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)

    def start(self) -> RetentionSweeper:
        self._thread.start()
        return self

    def sweep(self) -> dict[tuple[str, str], int]:
        """One pass: faces deleted per (account, collection)."""
        store, policies = self.context.store, self.context.policy_store
        deleted: dict[tuple[str, str], int] = {}
        for row_id, max_age_ms in policies.retention() if policies is not None else []:
            try:
                record = store.collection_by_row(row_id)
            except FacewiseError:  # deleted since
                continue
            cutoff = self.clock() - max_age_ms
            caller = Caller(record.account)
            while True:
                old = store.faces_created_before(record, cutoff, BATCH)
                if not old:
                    break
                ids = [face.face_id for face in old]
                done = erase_faces(self.context, caller, record, ids, Erasure.EXPIRE_FACES)
                key = (record.account, record.name)
                deleted[key] = deleted.get(key, 0) + len(done)
                if len(old) < BATCH:
                    break
        if self.context.scrub_pending:  # a reader delayed an erasure's scrub: finish it
            self.context.scrub_pending = not scrub(self.context)
        self.context.indexes.forget_deleted()  # collections other processes deleted
        return deleted

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                for (account, name), count in self.sweep().items():
                    log.info("retention: deleted %d faces from %s/%s", count, account, name)
            except Exception:  # our bug or the store's: try again next pass
                log.exception("retention sweep failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
