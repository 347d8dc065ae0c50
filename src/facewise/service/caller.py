"""Who a service call acts for: the account that scopes every name, and what the audit
trail records of the request."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True)
class Caller:
    """An account (the library and CLI act as ``default``), the role of the key that signed
    the request (the library and CLI, with the data directory in hand, act as admin), and
    for the audit trail the access key, request id and source address a request came with
    (None outside HTTP)."""

    account: str = DEFAULT_ACCOUNT
    access_key_id: str | None = None
    request_id: str | None = None
    source_address: str | None = None
    role: str = "admin"
