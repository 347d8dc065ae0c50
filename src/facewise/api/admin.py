"""facewise's own HTTP endpoints beside the Rekognition protocol: the audit trail, for admin
keys, scoped to the key's account. Requests are SigV4-signed for the service ``facewise``
(``curl --aws-sigv4 "aws:amz:us-east-1:facewise" --user KEY:SECRET``)::

    GET /facewise/audit/records?since=&until=&operation=&collection=&key=&limit=&next_token=
        -> {"Records": [...], "NextToken": "..."}     (one page, newest last; limit <= 1000)
    GET /facewise/audit/export?format=jsonl|csv&(the same filters)
        -> every matching record as JSON lines or CSV
    GET /facewise/audit/verify
        -> {"Intact": true, "Records": n, "HeadSeq": n, "HeadHash": "...", "Broken": null}

Records use the field names of ``facewise audit list --json`` (docs/accountability.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from facewise.api import errors
from facewise.errors import InvalidParameterError
from facewise.service.audit import AuditTrail, as_dict, operation_name, parse_time_ms
from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.keys import Role
from facewise.store.records import AuditQuery

ADMIN_SERVICE = "facewise"
PREFIX = "/facewise/"
MAX_PAGE = 1000
_FILTERS = ("since", "until", "operation", "collection", "key", "limit", "next_token", "format")


def _params(query: str) -> dict[str, str]:
    parsed = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(parsed) - set(_FILTERS))
    if unknown:
        raise errors.ValidationException(f"unknown query parameters: {', '.join(unknown)}")
    return {name: values[-1] for name, values in parsed.items()}


def _query(account: str, params: Mapping[str, str]) -> AuditQuery:
    since, until = params.get("since"), params.get("until")
    operation = params.get("operation")
    return AuditQuery(
        account=account,
        since_ms=parse_time_ms(since, "since") if since else None,
        until_ms=parse_time_ms(until, "until") if until else None,
        operation=operation_name(operation) if operation else None,
        collection=params.get("collection") or None,
        access_key_id=params.get("key") or None,
    )


def _position(token: str | None, account: str) -> tuple[int, str, int] | None:
    if not token:
        return None
    try:
        time_ms, seq = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(time_ms), account, int(seq)
    except (ValueError, TypeError):
        raise InvalidParameterError("next_token is not one this endpoint issued") from None


def _token(position: tuple[int, str, int] | None) -> str | None:
    if position is None:
        return None
    return base64.urlsafe_b64encode(json.dumps([position[0], position[2]]).encode()).decode()


def handle(context: ServiceContext, caller: Caller, path: str, query: str) -> tuple[bytes, bytes]:
    """The response body and its content type for an admin request (already signed)."""
    if caller.role != Role.ADMIN:
        raise errors.AccessDenied(
            f"User: {caller.access_key_id} (role {caller.role}) is not authorized to perform: "
            f"{ADMIN_SERVICE}:{path[len(PREFIX) :]}"
        )
    if context.audit_log is None:
        raise errors.NotFound("this store keeps no audit trail")
    trail = AuditTrail(context.audit_log)
    params = _params(query)
    account = caller.account
    if path == "/facewise/audit/records":
        limit_text = params.get("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise InvalidParameterError(f"limit must be a whole number from 1 to {MAX_PAGE}")
        after = _position(params.get("next_token"), account)
        records, position = trail.page(_query(account, params), after, int(limit_text))
        body: dict[str, Any] = {"Records": [as_dict(r) for r in records]}
        token = _token(position)
        if token is not None:
            body["NextToken"] = token
        return json.dumps(body).encode(), b"application/json"
    if path == "/facewise/audit/export":
        fmt = params.get("format", "jsonl")
        text = "".join(trail.export(_query(account, params), fmt))
        kind = b"text/csv" if fmt == "csv" else b"application/x-ndjson"
        return text.encode(), kind
    if path == "/facewise/audit/verify":
        (chain,) = trail.verify(account).chains
        broken = None if chain.broken is None else str(chain.broken)
        verdict = {
            "Intact": chain.broken is None,
            "Records": chain.records,
            "HeadSeq": chain.head_seq,
            "HeadHash": chain.head_hash,
            "Broken": broken,
        }
        return json.dumps(verdict).encode(), b"application/json"
    raise errors.NotFound(f"no such path {path[:100]!r} (docs/accountability.md lists them)")
