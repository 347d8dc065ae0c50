"""Job completion notices: an SNS topic ARN in a Start... request names a facewise topic,
which maps to a webhook. On completion facewise POSTs the JSON message Rekognition
publishes, signed so the receiver can tell it came from this facewise:

    X-Facewise-Signature: t=<unix ms>,v1=<hex HMAC-SHA256(topic secret, "<t>.<body>")>

Delivery runs in the background with retries (RETRY_DELAYS_S); a receiver that stays
down loses the notice, not the job: Get... still answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from facewise.errors import InvalidParameterError, ResourceNotFoundError
from facewise.service.scope import AccountService
from facewise.store.protocols import JobStore
from facewise.store.records import Topic, VideoJob, now_ms

log = logging.getLogger(__name__)

TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")  # SNS's topic-name rule
RETRY_DELAYS_S: Sequence[float] = (1.0, 4.0, 15.0)
TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Facewise-Signature"
API_NAMES = {"face_detection": "FACE_DETECTION", "face_search": "FACE_SEARCH"}


def sign(secret: str, timestamp_ms: int, body: bytes) -> str:
    """The signature header's value for a body sent at timestamp_ms."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}.".encode() + body, hashlib.sha256)
    return f"t={timestamp_ms},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, max_age_ms: int = 300_000) -> bool:
    """Whether a received notice is genuine and recent (what a receiver runs)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp, given = fields.get("t", ""), fields.get("v1", "")
    if not re.fullmatch(r"[0-9]{1,15}", stamp) or not re.fullmatch(r"[0-9a-f]{64}", given):
        return False
    timestamp = int(stamp)
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    fresh = abs(now_ms() - timestamp) <= max_age_ms
    return fresh and hmac.compare_digest(expected.encode(), given.encode())


def topic_name(arn: str) -> str:
    """The topic an SNS topic ARN names (arn:aws:sns:<region>:<account>:<name>)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"] or not TOPIC_NAME.fullmatch(parts[5]):
        raise InvalidParameterError(f"{arn[:300]!r} is not an SNS topic ARN")
    return parts[5]


class Topics(AccountService):
    """Create, list and delete the caller's topics."""

    def _jobs(self) -> JobStore:
        if self.context.jobs is None:
            raise InvalidParameterError("this store keeps no topics")
        return self.context.jobs

    def create(self, name: str, url: str) -> Topic:
        """A topic posting to ``url`` (http or https), with a new signing secret."""
        if not isinstance(name, str) or not TOPIC_NAME.fullmatch(name):
            raise InvalidParameterError("a topic name is 1-256 letters, digits, '-' or '_'")
        if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s]+", url):
            raise InvalidParameterError(f"the webhook URL must be http(s)://..., got {url!r}")
        topic = Topic(self.account, name, url, secrets.token_urlsafe(32), now_ms())
        return self._jobs().add_topic(topic)

    def list(self) -> list[Topic]:
        return self._jobs().topics(self.account)

    def delete(self, name: str) -> None:
        if not self._jobs().delete_topic(self.account, name):
            raise ResourceNotFoundError(f"no topic {name!r}")

    def by_arn(self, arn: str) -> str:
        """The caller's topic an ARN names; InvalidParameterError if there is none."""
        name = topic_name(arn)
        if self._jobs().topic(self.account, name) is None:
            raise InvalidParameterError(
                f"no topic {name!r}: create it with `facewise topics create {name} --url URL`"
            )
        return name


def message(job: VideoJob, status: str, finished_ms: int) -> bytes:
    """Rekognition's completion message for a job."""
    request = json.loads(job.request)
    video = request["video"]
    body = {
        "JobId": job.job_id,
        "Status": status,
        "API": API_NAMES.get(job.kind, job.kind.upper()),
        "JobTag": request.get("job_tag") or "",
        "Timestamp": finished_ms,
        "Video": {
            "S3ObjectName": video.get("name", video.get("path", "")),
            "S3Bucket": video.get("bucket", ""),
        },
    }
    return json.dumps(body).encode()


def notify(jobs: JobStore, job: VideoJob, status: str) -> threading.Thread | None:
    """POST the completion notice to the job's topic, in the background, with retries."""
    name = json.loads(job.request).get("topic")
    return post_to_topic(jobs, job.account, name, message(job, status, now_ms()))


def post_to_topic(
    jobs: JobStore, account: str, name: str | None, body: bytes
) -> threading.Thread | None:
    """POST a signed notice to the account's topic of that name (if there is one) on a
    thread of its own, with retries."""
    topic = jobs.topic(account, name) if name else None
    if topic is None:
        return None
    thread = threading.Thread(
        target=_deliver, args=(topic, body), name=f"notify-{topic.name}", daemon=True
    )
    thread.start()
    return thread


def _deliver(topic: Topic, body: bytes) -> None:
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS_S)):
        time.sleep(delay)
        stamp = now_ms()
        request = urllib.request.Request(
            topic.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(topic.secret, stamp, body),
                "User-Agent": "facewise-notifications",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                if 200 <= answer.status < 300:
                    return
        except (urllib.error.URLError, OSError, ValueError) as error:
            log.warning("notice to topic %r, attempt %d: %s", topic.name, attempt + 1, error)
    log.warning("gave up notifying topic %r", topic.name)
