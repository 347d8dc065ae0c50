"""Which operations each key role may call: anything outside its role is refused with
AccessDeniedException before the request is looked at further (service/keys.py says what
each role is for). An operation named nowhere here is for admin keys only.
"""

from __future__ import annotations

from facewise.api import errors
from facewise.service.keys import Role

READ = frozenset(
    {
        "DescribeCollection",
        "ListCollections",
        "ListFaces",
        "ListUsers",
        "ListTagsForResource",
        "GetFaceDetection",
        "GetFaceSearch",
        "DescribeStreamProcessor",
        "ListStreamProcessors",
        # Kinesis: reading what stream processors wrote.
        "DescribeStream",
        "DescribeStreamSummary",
        "ListShards",
        "ListStreams",
        "GetShardIterator",
        "GetRecords",
    }
)
SEARCH = READ | {
    "DetectFaces",
    "CompareFaces",
    "SearchFaces",
    "SearchFacesByImage",
    "SearchUsers",
    "SearchUsersByImage",
    "StartFaceDetection",
    "StartFaceSearch",
}
INDEX = READ | {
    "DetectFaces",
    "IndexFaces",
    "DeleteFaces",
    "CreateUser",
    "DeleteUser",
    "AssociateFaces",
    "DisassociateFaces",
    "StartFaceDetection",
}
ALLOWED: dict[Role, frozenset[str]] = {Role.READ: READ, Role.SEARCH: SEARCH, Role.INDEX: INDEX}


def may_call(role: str, operation: str) -> bool:
    """Whether a key of this role may call the operation (admin keys may call anything)."""
    if role == Role.ADMIN:
        return True
    allowed = next((ops for kind, ops in ALLOWED.items() if kind.value == role), frozenset())
    return operation in allowed


def check(role: str, operation: str, service: str, access_key_id: str) -> None:
    """AccessDeniedException (as AWS words it) unless the role allows the operation."""
    if not may_call(role, operation):
        raise errors.AccessDenied(
            f"User: {access_key_id} (role {role}) is not authorized to perform: "
            f"{service}:{operation}"
        )
