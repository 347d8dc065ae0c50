"""The HTTP edge: an ASGI app speaking Rekognition's AWS JSON 1.1 protocol.

    POST /          X-Amz-Target: RekognitionService.<Operation>, SigV4-signed
    GET  /healthz   unsigned liveness check
    GET  /metrics   unsigned Prometheus counters (no names of collections, users or faces)
    GET  /facewise/audit/...  the audit trail for admin keys, SigV4-signed (api/admin.py)

Only this module is async. Each request is read (up to ``max_body_bytes``), then handed to a
thread pool where it is authenticated, validated and run; image operations use a bounded
inference pool and are refused with ThrottlingException when it is full, instead of queueing
without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from facewise.api import admin, errors, roles
from facewise.api.handlers import IMAGE_OPERATIONS, Call, find_handler
from facewise.api.kinesis import (
    KINESIS_SERVICE,
    KINESIS_TARGET_PREFIX,
    KinesisHandlers,
    kinesis_operation,
)
from facewise.api.kinesis import from_core as kinesis_error
from facewise.api.metrics import Metrics
from facewise.api.model import SERVICE, TARGET_PREFIX, operation, snake_case
from facewise.api.sigv4 import SignedRequest, verify
from facewise.api.validate import parse_body, validate_input
from facewise.errors import FacewiseError
from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.data_streams import close_forwarders
from facewise.service.keys import AccessKeys

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_CONTENT_TYPE = b"application/x-amz-json-1.1"
# Operations without images take small bodies (4,096 FaceIds are about 160 KB).
SMALL_BODY_BYTES = 1024 * 1024
access_log = logging.getLogger("facewise.access")
error_log = logging.getLogger("facewise.server")


@dataclass(frozen=True)
class ServerConfig:
    """Capacity knobs of the HTTP service.

    inference_workers: image operations run at once. More than the cores rarely helps (each
        model already uses every core); fewer leaves cores idle between requests.
    max_waiting: image requests allowed to wait for a worker. Beyond it, ThrottlingException
        (botocore retries with backoff). Larger smooths bursts at the cost of latency.
    store_workers: threads for the operations that only read or write the store.
    max_body_bytes: largest body of an image operation. Two 5 MB images in base64
        (CompareFaces) fit. Other operations take at most 1 MiB. Memory for bodies is
        bounded by (inference_workers + max_waiting) x this, plus the store pool's share.
    """

    inference_workers: int = 2
    max_waiting: int = 32
    store_workers: int = 4
    max_body_bytes: int = 16 * 1024 * 1024


@dataclass
class _Outcome:
    status: int
    body: bytes
    operation: str
    account: str = "-"
    error_code: str | None = None
    content_type: bytes = JSON_CONTENT_TYPE

    @classmethod
    def failed(cls, error: errors.AwsError, operation: str, account: str = "-") -> _Outcome:
        return cls(error.status, _json(error.body()), operation, account, error.code)


class _Pool:
    """A thread pool with a cap on admitted requests (reading their body, waiting, running)."""

    def __init__(self, workers: int, capacity: int, name: str) -> None:
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self.capacity = capacity
        self.admitted = 0

    @contextlib.contextmanager
    def admission(self) -> Iterator[None]:
        """A place for one request, or ThrottlingException when all are taken."""
        if self.admitted >= self.capacity:
            raise errors.Throttling("facewise is busy; try again shortly")
        self.admitted += 1  # only the event loop thread touches the counter
        try:
            yield
        finally:
            self.admitted -= 1

    async def run(self, work: Callable[[], _Outcome]) -> _Outcome:
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)


class RekognitionApp:
    """The ASGI application over one service context (store, analyzer, images) and keys."""

    def __init__(
        self,
        context: ServiceContext,
        keys: AccessKeys,
        config: ServerConfig = ServerConfig(),
    ) -> None:
        self.context = context
        self.keys = keys
        self.config = config
        self.metrics = Metrics()
        self.inference = _Pool(
            config.inference_workers, config.inference_workers + config.max_waiting, "infer"
        )
        self.store = _Pool(config.store_workers, config.store_workers * 16, "store")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self) -> None:
        """Finish running work, then snapshot indexes and close the store."""
        self.inference.executor.shutdown(wait=True)
        self.store.executor.shutdown(wait=True)
        self.context.close()
        close_forwarders()

    # -- HTTP -------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        headers = _headers(scope)
        client = scope.get("client") or ("-", 0)
        path, method = scope["path"], scope["method"]
        content_type = JSON_CONTENT_TYPE
        try:
            if path == "/healthz" and method in ("GET", "HEAD"):
                outcome = _Outcome(200, b'{"status":"ok"}', "healthz")
                content_type = b"application/json"
            elif path == "/metrics" and method in ("GET", "HEAD"):
                outcome = _Outcome(200, self.metrics.render().encode(), "metrics")
                content_type = b"text/plain; version=0.0.4"
            elif path.startswith(admin.PREFIX) and method in ("GET", "HEAD"):
                outcome = await self._admin(scope, headers, request_id, client[0])
                content_type = outcome.content_type
            elif path != "/":
                raise errors.NotFound(f"no such path {path[:100]!r}; requests go to POST /")
            elif method != "POST":
                raise errors.MethodNotAllowed("Rekognition requests are POST /")
            else:
                self.metrics.enter()
                try:
                    outcome = await self._rekognition(
                        scope, receive, headers, request_id, client[0]
                    )
                finally:
                    self.metrics.leave()
        except errors.AwsError as error:
            outcome = _Outcome.failed(error, _target(headers) or "-")
        if outcome.error_code is not None:
            self.metrics.error(outcome.error_code)
        await send(
            {
                "type": "http.response.start",
                "status": outcome.status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(outcome.body)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": outcome.body if method != "HEAD" else b""}
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.metrics.observe(outcome.operation, outcome.status, elapsed_ms)
        access_log.info(
            "%s %s %s %s %d %.1fms %s",
            client[0],
            outcome.account,
            method,
            outcome.operation,
            outcome.status,
            elapsed_ms,
            request_id,
        )

    async def _rekognition(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        request_id: str,
        source: str,
    ) -> _Outcome:
        name = _target(headers) or _kinesis_target(headers)
        analyses_images = name in IMAGE_OPERATIONS
        pool = self.inference if analyses_images else self.store
        # Admitted before the body is read: memory stays bounded by places x body limit.
        with pool.admission():
            limit = self.config.max_body_bytes if analyses_images else SMALL_BODY_BYTES
            body = await self._read_body(receive, headers, limit)
            request = SignedRequest(
                method="POST",
                host=headers.get("host", ""),
                path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0],
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
                body=body,
            )
            return await pool.run(lambda: self._process(name, request, request_id, source))

    async def _admin(
        self, scope: Scope, headers: dict[str, str], request_id: str, source: str
    ) -> _Outcome:
        """facewise's own endpoints (api/admin.py): GET, signed for the service facewise."""
        request = SignedRequest(
            method=scope["method"],
            host=headers.get("host", ""),
            path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=b"",
        )
        path = scope["path"]

        def work() -> _Outcome:
            account = "-"
            try:
                signer = verify(request, self.keys.active, service=admin.ADMIN_SERVICE)
                account, key = signer.account, signer.key
                caller = Caller(account, key.access_key_id, request_id, source, key.role)
                body, kind = admin.handle(self.context, caller, path, request.query)
                return _Outcome(200, body, path, account, content_type=kind)
            except errors.AwsError as error:
                return _Outcome.failed(error, path, account)
            except FacewiseError as error:
                return _Outcome.failed(errors.from_core(error), path, account)
            except Exception:
                error_log.exception("%s failed", path)
                wire = errors.InternalServerError("facewise failed on this request; see its log")
                return _Outcome.failed(wire, path, account)

        with self.store.admission():
            return await self.store.run(work)

    async def _read_body(self, receive: Receive, headers: dict[str, str], limit: int) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise errors.RequestEntityTooLarge(
                f"the request body is {int(declared):,} bytes; the limit is {limit:,}"
            )
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise errors.SerializationException("the client went away mid-request")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise errors.RequestEntityTooLarge(f"the request body exceeds {limit:,} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    # -- in a worker thread -----------------------------------------------------------------

    def _process(
        self, name: str | None, request: SignedRequest, request_id: str, source: str
    ) -> _Outcome:
        shown = name or "-"
        account = "-"
        kinesis = name is not None and name == _kinesis_target(request.headers)
        try:
            service = KINESIS_SERVICE if kinesis else SERVICE
            signer = verify(request, self.keys.active, service=service)
            account = signer.account
            key = signer.key
            roles.check(key.role, name or "-", service, key.access_key_id)
            caller = Caller(account, key.access_key_id, request_id, source, key.role)
            if kinesis and name is not None:
                response = self._call_kinesis(name, request.body, caller, signer.region)
            else:
                response = self._call(name, request.body, caller, signer.region)
            return _Outcome(200, _json(response), shown, account)
        except errors.AwsError as error:
            return _Outcome.failed(error, shown, account)
        except FacewiseError as error:
            wire = kinesis_error(error) if kinesis else errors.from_core(error)
            if wire.status >= 500:
                error_log.error("%s failed: %s", shown, error)
            return _Outcome.failed(wire, shown, account)
        except Exception:
            error_log.exception("%s failed", shown)
            wire = errors.InternalServerError("facewise failed on this request; see its log")
            return _Outcome.failed(wire, shown, account)

    def _call(self, name: str | None, body: bytes, caller: Caller, region: str) -> dict[str, Any]:
        model = operation(name) if name is not None else None  # _target() checked the name
        if name is None or model is None:
            raise errors.UnknownOperationException(
                f"X-Amz-Target must be {TARGET_PREFIX}<Operation>, naming a Rekognition operation"
            )
        handler = find_handler(snake_case(name))
        if handler is None:
            raise errors.UnknownOperationException(
                f"facewise does not support {name} yet (docs/rekognition.md lists what it does)"
            )
        params = validate_input(parse_body(body), model.input_shape)
        return handler(Call(self.context, caller, region), params)

    def _call_kinesis(self, name: str, body: bytes, caller: Caller, region: str) -> dict[str, Any]:
        model = kinesis_operation(name)
        method = getattr(KinesisHandlers, snake_case(name), None)
        if model is None or method is None:
            raise errors.UnknownOperationException(
                f"facewise serves the Kinesis read side and stream management, not {name} "
                "(docs/streams.md lists what it does)"
            )
        params = validate_input(parse_body(body), model.input_shape)
        result: dict[str, Any] = method(KinesisHandlers(Call(self.context, caller, region)), params)
        return result


def _kinesis_target(headers: Mapping[str, str]) -> str | None:
    """The Kinesis operation an X-Amz-Target names (Kinesis_20131202.<Operation>), if any."""
    target = headers.get("x-amz-target", "")
    if not target.startswith(KINESIS_TARGET_PREFIX):
        return None
    name = target[len(KINESIS_TARGET_PREFIX) :]
    return name if kinesis_operation(name) is not None else None


def _headers(scope: Scope) -> dict[str, str]:
    """Lower-case header names; repeated headers joined with commas (as SigV4 does)."""
    merged: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = " ".join(raw_value.decode("latin-1").split())
        merged[name] = f"{merged[name]},{value}" if name in merged else value
    return merged


def _target(headers: dict[str, str]) -> str | None:
    """The operation an X-Amz-Target names, if it is a Rekognition one (else None)."""
    target = headers.get("x-amz-target", "")
    if not target.startswith(TARGET_PREFIX):
        return None
    name = target[len(TARGET_PREFIX) :]
    return name if operation(name) is not None else None


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
