"""Where a data stream's records go besides the stream itself: a webhook (signed as job notices
are), an MQTT topic (Home Assistant and Frigate users live there), a Redis stream (for
consumers already reading Redis, e.g. beside Celery) and a JSON lines file. Each record is
handed to a background thread per data stream with a bounded queue, so a slow or dead
receiver never slows a camera; past the queue the oldest are dropped (and logged).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from facewise.errors import InvalidParameterError
from facewise.service.notifications import SIGNATURE_HEADER, sign
from facewise.store.records import now_ms

log = logging.getLogger(__name__)

QUEUE_RECORDS = 1000
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_RETRY_DELAYS_S = (0.5, 2.0)
MQTT_PORT = 1883
REDIS_STREAM_MAXLEN = 100_000  # about the newest records a Redis stream keeps (XADD MAXLEN ~)


@dataclass(frozen=True)
class Sinks:
    """A data stream's forwarding targets (None: not forwarded there).

    webhook_url / webhook_secret: each record is POSTed as JSON with the
        X-Facewise-Signature header (service/notifications.py explains how to check it).
    mqtt_url: mqtt://[user:pass@]host[:port]/topic/path, QoS 1, one message per record.
    jsonl_path: each record appended as one line.
    redis_url: redis://[:password@]host[:port]/DB/STREAM-KEY: each record added to that
        Redis stream (XADD, field ``data``), keeping about the newest REDIS_STREAM_MAXLEN.
    """

    webhook_url: str | None = None
    webhook_secret: str | None = None
    mqtt_url: str | None = None
    jsonl_path: str | None = None
    redis_url: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.webhook_url or self.mqtt_url or self.jsonl_path or self.redis_url)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Sinks:
        return cls(**json.loads(text or "{}"))


def parse_sinks(
    webhook: str | None = None,
    mqtt: str | None = None,
    jsonl: str | Path | None = None,
    secret: str | None = None,
    redis: str | None = None,
) -> Sinks:
    """Checked forwarding targets; a new webhook gets a new signing secret."""
    if webhook is not None and not re.fullmatch(r"https?://[^\s]+", str(webhook)):
        raise InvalidParameterError(f"the webhook URL must be http(s)://..., got {webhook!r}")
    if mqtt is not None:
        parts = urlsplit(str(mqtt))
        if parts.scheme != "mqtt" or not parts.hostname or len(parts.path) < 2:
            raise InvalidParameterError(
                f"the MQTT target must be mqtt://host[:port]/topic, got {mqtt!r}"
            )
    if redis is not None:
        _redis_target(str(redis))  # refuses a malformed one
    path = None
    if jsonl is not None:
        resolved = Path(jsonl).expanduser().absolute()
        if not resolved.parent.is_dir():
            raise InvalidParameterError(f"no folder {str(resolved.parent)!r} for the JSON lines")
        path = str(resolved)
    return Sinks(
        webhook_url=webhook,
        webhook_secret=(secret or secrets.token_urlsafe(32)) if webhook else None,
        mqtt_url=mqtt,
        jsonl_path=path,
        redis_url=redis,
    )


def _redis_target(url: str) -> tuple[str, str]:
    """(the server's URL with its database, the stream key) of redis://host/DB/KEY."""
    parts = urlsplit(url)
    segments = parts.path.split("/", 2)
    if (
        parts.scheme not in ("redis", "rediss")
        or not parts.hostname
        or len(segments) != 3
        or not segments[1].isdigit()
        or not segments[2]
    ):
        raise InvalidParameterError(
            f"the Redis stream must be redis://host[:port]/DB/STREAM-KEY, got {url[:200]!r}"
        )
    server = parts._replace(path=f"/{segments[1]}").geturl()
    return server, unquote(segments[2])


class _RedisStream:
    """A Redis stream that records are added to; one connection, re-opened after a failure."""

    def __init__(self, url: str) -> None:
        self.server, self.key = _redis_target(url)
        self.client: Any = None

    def add(self, payload: bytes) -> None:
        import redis

        if self.client is None:
            self.client = redis.Redis.from_url(self.server, socket_timeout=WEBHOOK_TIMEOUT_S)
        try:
            self.client.xadd(
                self.key, {"data": payload}, maxlen=REDIS_STREAM_MAXLEN, approximate=True
            )
        except redis.RedisError as error:
            self.close()
            raise OSError(f"Redis did not take the record: {error}") from None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


class _Mqtt:
    """One connection to a broker, opened on first use and re-opened after a failure."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or MQTT_PORT
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.topic = unquote(parts.path[1:])
        self.client: Any = None

    def publish(self, payload: bytes) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        if self.client is None:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="")
            if self.user is not None:
                client.username_pw_set(self.user, self.password)
            client.connect(self.host, self.port, keepalive=30)
            client.loop_start()
            self.client = client
        info = self.client.publish(self.topic, payload, qos=1)
        info.wait_for_publish(timeout=WEBHOOK_TIMEOUT_S)
        if not info.is_published():
            self.close()
            raise OSError(f"the MQTT broker {self.host}:{self.port} did not take the record")

    def close(self) -> None:
        if self.client is not None:
            self.client.loop_stop()
            self.client.disconnect()
            self.client = None


class Forwarder:
    """Forwards one data stream's records to its sinks, in order, on a thread of its own."""

    def __init__(self, name: str, sinks: Sinks) -> None:
        self.name, self.sinks = name, sinks
        self._records: queue.Queue[bytes | None] = queue.Queue(QUEUE_RECORDS)
        self._mqtt = _Mqtt(sinks.mqtt_url) if sinks.mqtt_url else None
        self._redis = _RedisStream(sinks.redis_url) if sinks.redis_url else None
        self._thread = threading.Thread(target=self._run, name=f"sink-{name}", daemon=True)
        self._thread.start()

    def offer(self, data: bytes) -> None:
        """Queue a record; when the queue is full the oldest waiting one is dropped."""
        while True:
            try:
                self._records.put_nowait(data)
                return
            except queue.Full:
                try:
                    self._records.get_nowait()
                    log.warning("data stream %r: a receiver is behind; dropped a record", self.name)
                except queue.Empty:
                    pass

    def close(self, timeout_s: float = 5.0) -> None:
        """Forward what is queued (up to timeout_s), then stop."""
        with contextlib.suppress(queue.Full):
            self._records.put(None, timeout=timeout_s)
        self._thread.join(timeout_s)
        if self._mqtt is not None:
            self._mqtt.close()
        if self._redis is not None:
            self._redis.close()

    def _run(self) -> None:
        while (data := self._records.get()) is not None:
            for target, send in self._targets():
                try:
                    send(data)
                except Exception as error:  # a receiver's failure never stops the others
                    log.warning(
                        "data stream %r: forwarding to %s failed: %s", self.name, target, error
                    )

    def _targets(self) -> list[tuple[str, Any]]:
        targets: list[tuple[str, Any]] = []
        if self.sinks.webhook_url:
            targets.append(("the webhook", self._post))
        if self._mqtt is not None:
            targets.append(("MQTT", self._mqtt.publish))
        if self._redis is not None:
            targets.append(("the Redis stream", self._redis.add))
        if self.sinks.jsonl_path:
            targets.append(("the JSON lines file", self._append))
        return targets

    def _post(self, data: bytes) -> None:
        url, secret = self.sinks.webhook_url or "", self.sinks.webhook_secret or ""
        last: object = "no 2xx answer"
        for delay in (0.0, *WEBHOOK_RETRY_DELAYS_S):
            time.sleep(delay)
            request = urllib.request.Request(
                url,
                data=data,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(secret, now_ms(), data),
                    "User-Agent": "facewise-data-stream",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as answer:
                    if 200 <= answer.status < 300:
                        return
            except (urllib.error.URLError, OSError, ValueError) as error:
                last = error
        raise OSError(f"no answer from {url[:200]}: {last}")

    def _append(self, data: bytes) -> None:
        with open(self.sinks.jsonl_path or "", "ab") as file:
            file.write(data.replace(b"\n", b" ") + b"\n")
