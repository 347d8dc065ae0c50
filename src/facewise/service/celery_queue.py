"""Video jobs through Celery on Redis (the JobQueue of a scale-out deployment).

`facewise serve` submits each job's id as one Celery task; `facewise worker` processes run
them (service/worker.py). Tasks are acknowledged late, so a message is only gone once its
job has been run; a worker killed mid-job is covered by the job's lease instead of by
Redis's redelivery (which comes only after the visibility timeout, an hour): a lease that
runs out puts the job back on the queue within seconds (service/worker.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from facewise.errors import LimitExceededError, StoreError

if TYPE_CHECKING:
    from celery import Celery

VIDEO_QUEUE = "facewise.video"
RUN_VIDEO_JOB = "facewise.run_video_job"
# Past this, Redis hands an unacknowledged task to another worker even if the first still
# runs it (the job's lease then keeps the second from running it twice). Longer than any
# video job should take; a dead worker's jobs come back through their leases long before.
VISIBILITY_TIMEOUT_S = 3 * 3600


def celery_app(url: str) -> Celery:
    """The Celery application on the broker at ``url`` (``redis://host:port/db``)."""
    from celery import Celery

    app = Celery("facewise", broker=url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # acknowledged when the job has run, not when it was taken
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds no more tasks than it runs
        task_default_queue=VIDEO_QUEUE,
        task_ignore_result=True,  # outcomes live in the store, not in a result backend
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


class CeleryQueue:
    """Sends job ids to the workers (service.job_queue.JobQueue).

    max_queued: jobs that may wait in Redis; past it submit raises LimitExceededError, as
        Rekognition does, rather than queueing without bound.
    """

    def __init__(self, url: str, max_queued: int = 20) -> None:
        self.url = url
        self.max_queued = max_queued
        self.app = celery_app(url)

    def waiting(self) -> int:
        """Jobs in the queue that no worker has taken yet."""
        with self.app.connection_for_read() as connection:
            client: Any = connection.default_channel.client
            return int(client.llen(VIDEO_QUEUE))

    def submit(self, job_id: str, over_limit: bool = False) -> None:
        from kombu.exceptions import OperationalError

        try:
            if not over_limit and self.waiting() >= self.max_queued:
                raise LimitExceededError(
                    "too many video jobs are waiting; try again when some have finished"
                )
            self.app.send_task(RUN_VIDEO_JOB, args=[job_id], queue=VIDEO_QUEUE, retry=False)
        except (OperationalError, OSError) as error:
            # The answer reaches API clients: name the host, never the URL's password.
            where = urlsplit(self.url)
            raise StoreError(
                f"the job queue at {where.hostname}:{where.port or 6379} is unreachable: {error}"
            ) from None

    def close(self) -> None:
        self.app.close()
