"""SigV4: recompute the signature of a request with botocore's own signer and compare.

The client signs with its secret; the server looks the access key up, rebuilds the
canonical request from the headers the client says it signed, and compares the two
signatures in constant time. A signature dated more than 15 minutes from the server's
clock is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from facewise.api import errors
from facewise.api.model import SERVICE
from facewise.store.records import AccessKey

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=15)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9\-;]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*"
)


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers: method, path, query, headers (lower-case names), body."""

    method: str
    host: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Signer:
    """Who signed a request, and for which region (it goes into ARNs)."""

    key: AccessKey
    region: str

    @property
    def account(self) -> str:
        return self.key.account


def _parse_authorization(value: str) -> tuple[list[str], list[str], str]:
    match = _AUTHORIZATION.fullmatch(value.strip())
    if match is None:
        if not value.startswith(ALGORITHM):
            raise errors.IncompleteSignature(f"Authorization must use {ALGORITHM}")
        raise errors.IncompleteSignature(
            "Authorization header requires Credential, SignedHeaders and Signature"
        )
    credential = match["credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise errors.IncompleteSignature(
            "Credential must be <key>/<yyyymmdd>/<region>/<service>/aws4_request"
        )
    return credential, match["signed"].split(";"), match["signature"]


def _request_time(headers: Mapping[str, str], now: datetime) -> datetime:
    stamp = headers.get("x-amz-date")
    if stamp is None:
        raise errors.IncompleteSignature("the X-Amz-Date header is required")
    try:
        when = datetime.strptime(stamp, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise errors.IncompleteSignature(
            f"X-Amz-Date {stamp[:40]!r} is not yyyymmddThhmmssZ"
        ) from None
    if when < now - MAX_CLOCK_SKEW:
        raise errors.InvalidSignature(
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - MAX_CLOCK_SKEW).strftime(AMZ_DATE_FORMAT)} ({stamp} - 15 min.)"
        )
    if when > now + MAX_CLOCK_SKEW:
        raise errors.InvalidSignature(
            f"Signature not yet current: {stamp} is still later than "
            f"{(now + MAX_CLOCK_SKEW).strftime(AMZ_DATE_FORMAT)} (now + 15 min.)"
        )
    return when


def verify(
    request: SignedRequest,
    lookup: Callable[[str], AccessKey | None],
    now: datetime | None = None,
    service: str = SERVICE,
) -> Signer:
    """The caller whose key signed ``request``; raises the AWS error that explains a refusal."""
    authorization = request.headers.get("authorization")
    if not authorization:
        raise errors.MissingAuthenticationToken("Request is missing Authentication Token")
    (access_key_id, date, region, scope_service, _), signed, signature = _parse_authorization(
        authorization
    )
    when = _request_time(request.headers, now or datetime.now(UTC))
    if date != when.strftime("%Y%m%d"):
        raise errors.InvalidSignature(
            f"Credential should be scoped to a valid date: {date} is not the date of X-Amz-Date"
        )
    if scope_service != service:
        raise errors.InvalidSignature(
            f"Credential should be scoped to correct service: '{service}'"
        )
    if "host" not in signed or "x-amz-date" not in signed:
        raise errors.InvalidSignature("SignedHeaders must include host and x-amz-date")
    missing = [name for name in signed if name not in request.headers]
    if missing:
        raise errors.InvalidSignature(f"signed headers missing from the request: {missing}")
    declared = request.headers.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
        raise errors.InvalidSignature("X-Amz-Content-SHA256 does not match the request body")
    key = lookup(access_key_id)
    if key is None:
        raise errors.UnrecognizedClient("The security token included in the request is invalid.")
    expected = _signature(request, signed, key, region, when, service)
    if not hmac.compare_digest(expected, signature):
        raise errors.InvalidSignature(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return Signer(key, region)


def _signature(
    request: SignedRequest,
    signed: list[str],
    key: AccessKey,
    region: str,
    when: datetime,
    service: str,
) -> str:
    url = f"http://{request.headers['host']}{request.path}"
    if request.query:
        url += f"?{request.query}"
    headers = {name: request.headers[name] for name in signed}
    rebuilt = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    rebuilt.context["timestamp"] = when.strftime(AMZ_DATE_FORMAT)
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret), service, region)
    canonical = signer.canonical_request(rebuilt)
    return cast(str, signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt))
