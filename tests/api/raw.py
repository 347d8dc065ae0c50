"""Hand-built HTTP requests, signed (or not) with SigV4, for what boto3 would never send."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def code(self) -> str:
        return self.json.get("__type", "")


def signed_headers(
    url: str,
    body: bytes,
    target: str | None,
    access_key_id: str,
    secret: str,
    *,
    when: datetime | None = None,
    region: str = "us-east-1",
    service: str = "rekognition",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers of a request signed as botocore signs it, at ``when`` (default now)."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Date": stamp}
    if target is not None:
        headers["X-Amz-Target"] = target
    headers.update(extra or {})
    request = AWSRequest(method="POST", url=url.rstrip("/") + "/", data=body, headers=headers)
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(access_key_id, secret), service, region)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signed = signer.signed_headers(signer.headers_to_sign(request))
    scope = f"{access_key_id}/{stamp[:8]}/{region}/{service}/aws4_request"
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def send(
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/",
    timeout: float = 60,
) -> Answer:
    """One request on a new connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.read(), dict(response.getheaders()))
    finally:
        connection.close()


def call(
    url: str,
    operation: str,
    body: bytes | dict[str, Any],
    access_key_id: str,
    secret: str,
    **signing: Any,
) -> Answer:
    """A signed POST of ``body`` (bytes as is, a dict as JSON) to RekognitionService.<op>."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = signed_headers(
        url, data, f"RekognitionService.{operation}", access_key_id, secret, **signing
    )
    return send(url, data, headers)
