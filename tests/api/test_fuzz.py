"""Thousands of malformed requests: the server answers each with a 4xx, stays up, and the
stored collections are exactly as they were.

Each request starts from a valid body for a real operation on a real collection and breaks
it in one way (wrong JSON type, bad base64, corrupt image, huge or negative number, bad
name, truncated or non-JSON body, bad target or signature), so any 2xx or 5xx is a bug.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tests.api import raw
from tests.api.server import ServerProcess

REQUESTS = 3000
SEED = 20261201
FACE = "11111111-2222-3333-4444-555555555555"
Body = dict[str, Any]


def _valid_bodies(collection: str, image: str, face_id: str) -> dict[str, Body]:
    """A request that would succeed, per operation (images as base64 strings)."""
    return {
        "DetectFaces": {"Image": {"Bytes": image}, "Attributes": ["ALL"]},
        "CompareFaces": {
            "SourceImage": {"Bytes": image},
            "TargetImage": {"Bytes": image},
            "SimilarityThreshold": 80.0,
        },
        "CreateCollection": {"CollectionId": "fuzz-new", "Tags": {"a": "b"}},
        "DescribeCollection": {"CollectionId": collection},
        "ListCollections": {"MaxResults": 10},
        "DeleteCollection": {"CollectionId": collection},
        "IndexFaces": {
            "CollectionId": collection,
            "Image": {"Bytes": image},
            "ExternalImageId": "x",
            "MaxFaces": 3,
            "QualityFilter": "AUTO",
        },
        "ListFaces": {"CollectionId": collection, "MaxResults": 5},
        "DeleteFaces": {"CollectionId": collection, "FaceIds": [face_id]},
        "SearchFaces": {"CollectionId": collection, "FaceId": face_id, "MaxFaces": 5},
        "SearchFacesByImage": {
            "CollectionId": collection,
            "Image": {"Bytes": image},
            "FaceMatchThreshold": 80.0,
        },
        "CreateUser": {"CollectionId": collection, "UserId": "fuzz-user"},
        "DeleteUser": {"CollectionId": collection, "UserId": "keeper"},
        "ListUsers": {"CollectionId": collection, "MaxResults": 5},
        "AssociateFaces": {"CollectionId": collection, "UserId": "keeper", "FaceIds": [face_id]},
        "DisassociateFaces": {
            "CollectionId": collection,
            "UserId": "keeper",
            "FaceIds": [face_id],
        },
        "SearchUsers": {"CollectionId": collection, "FaceId": face_id},
        "SearchUsersByImage": {"CollectionId": collection, "Image": {"Bytes": image}},
        "TagResource": {
            "ResourceArn": f"arn:aws:rekognition:us-east-1:default:collection/{collection}",
            "Tags": {"k": "v"},
        },
        "UntagResource": {
            "ResourceArn": f"arn:aws:rekognition:us-east-1:default:collection/{collection}",
            "TagKeys": ["team"],
        },
    }


def _corrupt_images(jpeg: bytes, rng: random.Random) -> list[bytes]:
    return [
        jpeg[: rng.randint(2, 400)],  # a header and nothing else
        b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randint(10, 5000)),
        b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(10, 5000)),
        b"GIF89a" + rng.randbytes(100),
        b"BM" + rng.randbytes(100),
        rng.randbytes(rng.randint(1, 3000)),
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
    ]


def _invalid_values(current: Any) -> list[Any]:
    """Values no shape of ``current``'s kind accepts: wrong JSON types, out-of-range numbers,
    strings too short, too long or with characters no name allows."""
    if isinstance(current, str):
        return [0, True, [], {"a": 1}, "", "x" * 5000, "bad name/.."]
    if isinstance(current, int | float):
        return [True, [], {}, "12", -(10**30), 1e308, -1]  # 10**30 is a valid MaxFaces
    if isinstance(current, list):
        return [0, True, {}, "s", [1, "a"], [None]]
    return [0, True, [], "s", None]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a member inside a body (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replaced(body: Body, path: tuple, new: Any) -> Body:
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def _break_member(body: Body, rng: random.Random, image_paths: list[tuple]) -> Body | None:
    """The body with one member replaced by a value its shape refuses (None: no such member)."""
    paths = [
        p
        for p in _paths(body)
        if p not in image_paths and not set(p) & {"Tags", "TagKeys"}  # tags take any string
    ]
    if not paths:
        return None
    path = rng.choice(paths)
    return _replaced(body, path, rng.choice(_invalid_values(_get(body, path))))


def _get(body: Any, path: tuple) -> Any:
    for step in path:
        body = body[step]
    return body


class Fuzzer:
    """Makes malformed requests, each (operation, body bytes, header tweak)."""

    def __init__(self, bodies: dict[str, Body], jpeg: bytes, seed: int) -> None:
        self.bodies = bodies
        self.jpeg = jpeg
        self.rng = random.Random(seed)

    def request(self) -> tuple[str, bytes, str]:
        rng = self.rng
        operation = rng.choice(sorted(self.bodies))
        body = self.bodies[operation]
        kind = rng.choice(
            ["member", "member", "member", "image", "base64", "json", "json", "target", "sign"]
        )
        image_paths = [p for p in _paths(body) if p and p[-1] == "Bytes"]
        if kind == "image" and image_paths:
            broken = rng.choice(_corrupt_images(self.jpeg, rng))
            return operation, _dump(_replaced(body, rng.choice(image_paths), _b64(broken))), ""
        if kind == "base64" and image_paths:
            bad = rng.choice(["not base64!", "YWJj=" * 3, "@@@@", _b64(self.jpeg)[:-3] + "*=="])
            return operation, _dump(_replaced(body, rng.choice(image_paths), bad)), ""
        if kind == "json":
            text = _dump(body)
            return (
                operation,
                rng.choice(
                    [
                        text[: rng.randint(1, len(text) - 1)],
                        rng.randbytes(rng.randint(1, 200)),
                        json.dumps(rng.choice([[body], 42, "s", None, True])).encode(),
                        b"{" * rng.randint(1, 50_000),
                        text.replace(b":", b"=", 1),
                    ]
                ),
                "",
            )
        if kind == "target":
            return operation, _dump(body), rng.choice(["unknown-op", "no-target", "lowercase"])
        if kind == "sign":
            return operation, _dump(body), rng.choice(["bad-secret", "unsigned", "bad-key"])
        broken_body = _break_member(body, rng, image_paths)
        if broken_body is None:
            return operation, b"{" + _dump(body), ""  # fall back: broken JSON
        return operation, _dump(broken_body), ""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _dump(body: Any) -> bytes:
    return json.dumps(body).encode()


def _state(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Everything the default account has stored, as comparable data."""
    state: dict[str, Any] = {}
    for name in client.list_collections()["CollectionIds"]:
        described = client.describe_collection(CollectionId=name)
        faces = client.get_paginator("list_faces").paginate(CollectionId=name).build_full_result()
        users = client.get_paginator("list_users").paginate(CollectionId=name).build_full_result()
        arn = described["CollectionARN"]
        state[name] = {
            "counts": (described["FaceCount"], described["UserCount"]),
            "faces": sorted(json.dumps(f, sort_keys=True) for f in faces["Faces"]),
            "users": users["Users"],
            "tags": client.list_tags_for_resource(ResourceArn=arn)["Tags"],
        }
    return state


class Connection:
    """A kept-alive connection that reconnects when the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.connection.request("POST", "/", body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def test_fuzzed_requests_get_4xx_and_change_nothing(
    server: ServerProcess, rekognition, hopper_jpeg: bytes
) -> None:
    collection = "fuzz-keep"
    rekognition.create_collection(CollectionId=collection, Tags={"team": "fuzz"})
    face_id = rekognition.index_faces(CollectionId=collection, Image={"Bytes": hopper_jpeg})[
        "FaceRecords"
    ][0]["Face"]["FaceId"]
    rekognition.create_user(CollectionId=collection, UserId="keeper")
    rekognition.associate_faces(CollectionId=collection, UserId="keeper", FaceIds=[face_id])
    before = _state(rekognition)

    fuzzer = Fuzzer(_valid_bodies(collection, _b64(hopper_jpeg), face_id), hopper_jpeg, SEED)
    connection = Connection(server.url)
    sign: Callable[..., dict[str, str]] = raw.signed_headers
    answered: dict[int, int] = {}
    codes: dict[str, int] = {}
    for _ in range(REQUESTS):
        operation, body, tweak = fuzzer.request()
        target = {
            "unknown-op": "RekognitionService.Fuzz" + operation,
            "no-target": None,
            "lowercase": "rekognitionservice." + operation.lower(),
        }.get(tweak, f"RekognitionService.{operation}")
        key, secret = server.access_key_id, server.secret
        if tweak == "bad-secret":
            secret += "!"
        if tweak == "bad-key":
            key = "FW" + "Z" * 18
        headers = sign(server.url, body, target, key, secret)
        if tweak == "unsigned":
            del headers["Authorization"]
        status, payload = connection.post(body, headers)
        answered[status] = answered.get(status, 0) + 1
        assert 400 <= status < 500, (operation, tweak, body[:300], status, payload[:300])
        code = json.loads(payload)["__type"]
        codes[code] = codes.get(code, 0) + 1

    assert raw.send(server.url, method="GET", path="/healthz").status == 200
    assert _state(rekognition) == before
    assert "Traceback" not in server.output()
    assert sum(answered.values()) == REQUESTS
    print(f"statuses {answered}; errors {codes}")
    # The mutations reach every layer: parsing, model validation, images, routing, SigV4.
    assert set(codes) >= {
        "SerializationException",
        "ValidationException",
        "InvalidImageFormatException",
        "UnknownOperationException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
    }
    rekognition.delete_collection(CollectionId=collection)
