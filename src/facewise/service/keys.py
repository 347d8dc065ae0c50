"""Access keys: each signs requests as one account (the AWS access key / secret pair) and
has one role, which decides the operations it may call (api/roles.py lists them):

- ``admin``: everything, including collections, stream processors, policies and the audit;
- ``index``: write faces and users (IndexFaces, DeleteFaces, users), and read;
- ``search``: identify (CompareFaces, Search*, video face search), and read;
- ``read``: describe and list what is stored, and read job and stream results.

An account sees only its own collections. The library and CLI act as the account
``default`` with the admin role; the first key a server creates is an admin key of it, so
the shell and boto3 share data. Keys made before roles existed are admin keys.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from enum import StrEnum

from facewise.errors import InvalidParameterError, ResourceNotFoundError
from facewise.service.caller import DEFAULT_ACCOUNT
from facewise.store.protocols import KeyStore
from facewise.store.records import AccessKey

ACCOUNT_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
KEY_PREFIX = "FW"  # AWS's keys start AKIA; ours are told apart at a glance
_KEY_ALPHABET = string.ascii_uppercase + string.digits


class Role(StrEnum):
    """What a key may do (see the module docstring)."""

    ADMIN = "admin"
    INDEX = "index"
    SEARCH = "search"
    READ = "read"


def parse_role(value: object) -> Role:
    for role in Role:
        if value == role.value:
            return role
    roles = ", ".join(r.value for r in Role)
    raise InvalidParameterError(f"role {value!r} must be one of {roles}")


@dataclass(frozen=True)
class NewKey:
    """A key just created: the only time its secret is shown."""

    access_key_id: str
    secret: str
    account: str
    role: Role = Role.ADMIN

    def exports(self) -> str:
        """The shell lines that make boto3 and the AWS CLI use this key."""
        return (
            f"export AWS_ACCESS_KEY_ID={self.access_key_id}\n"
            f"export AWS_SECRET_ACCESS_KEY={self.secret}"
        )


class AccessKeys:
    """Create, list, revoke and look up access keys in a key store."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def create(self, account: str = DEFAULT_ACCOUNT, role: str = Role.ADMIN) -> NewKey:
        """A new key for ``account`` (an account exists as long as it has keys or data)."""
        chosen = parse_role(role)
        if not isinstance(account, str) or not ACCOUNT_NAME.fullmatch(account):
            raise InvalidParameterError(
                f"account {account!r} must be 1-64 letters, digits, '-' or '_'"
            )
        key = _new_key(account, chosen)
        self.store.add_key(key.access_key_id, key.secret, account, chosen.value)
        return key

    def create_first(self) -> NewKey | None:
        """An admin key for the default account if no key was ever created, else None (of
        servers starting at once on an empty store, exactly one creates it)."""
        key = _new_key(DEFAULT_ACCOUNT, Role.ADMIN)
        added = self.store.add_first_key(
            key.access_key_id, key.secret, DEFAULT_ACCOUNT, Role.ADMIN.value
        )
        return key if added is not None else None

    def list(self) -> list[AccessKey]:
        return self.store.keys()

    def revoke(self, access_key_id: str) -> None:
        """Revoke a key at once; ResourceNotFoundError if no such active key."""
        if not self.store.revoke_key(access_key_id):
            raise ResourceNotFoundError(f"no active access key {access_key_id!r}")

    def active(self, access_key_id: str) -> AccessKey | None:
        """The key if it exists and is not revoked."""
        key = self.store.key(access_key_id)
        return key if key is not None and key.active else None


def _new_key(account: str, role: Role) -> NewKey:
    access_key_id = KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))
    return NewKey(access_key_id, secrets.token_urlsafe(30), account, role)
