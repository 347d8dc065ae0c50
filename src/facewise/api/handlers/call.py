"""What one request's handlers share: the service context, the caller and the region."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facewise.service.caller import Caller
from facewise.service.context import ServiceContext

Json = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One signed request: who made it (account, key, request id, address) and where."""

    context: ServiceContext
    caller: Caller
    region: str
