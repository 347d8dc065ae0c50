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

    @property
    def account_id(self) -> str:
        """The caller's account as ARNs show it: 12 digits (botocore's ARN patterns want
        them); the account's name stays what keys and the CLI use."""
        return self.context.account_id(self.caller.account)
