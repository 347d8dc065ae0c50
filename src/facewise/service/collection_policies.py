"""Policies as an admin sets them: the account's threshold floor and each collection's
policy (service/policy.py says what each field does)."""

from __future__ import annotations

from typing import Any

from facewise.errors import AccessDeniedError
from facewise.service.scope import AccountService
from facewise.store.records import CollectionPolicy


class CollectionPolicies(AccountService):
    """Show and set the caller's account floor and collection policies (admin only)."""

    def account_floor(self) -> float:
        return self.context.policies.account_floor(self.account)

    def set_account_floor(self, floor: float) -> float:
        """Set the lowest threshold any identification in the account may use (0-100)."""
        self._require_admin()
        return self.context.policies.set_account_floor(self.account, floor)

    def policy(self, collection_id: str) -> CollectionPolicy:
        return self.context.policies.policy(self.collection(collection_id))

    def set_policy(self, collection_id: str, **changes: Any) -> CollectionPolicy:
        """Change some of min_threshold, max_results, search_keys and max_face_age_days
        (None clears a limit); the others keep their values."""
        self._require_admin()
        return self.context.policies.update(self.collection(collection_id), **changes)

    def _require_admin(self) -> None:
        if self.caller.role != "admin":
            raise AccessDeniedError("only admin keys may change policies")
