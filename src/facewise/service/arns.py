"""The ARNs live resources go by: cameras as Kinesis video streams, data streams as Kinesis
data streams, stream processors as Rekognition's. Each carries the account's 12-digit id;
facewise reads only the name from them, after checking the account."""

from __future__ import annotations

from facewise.errors import InvalidParameterError, ResourceNotFoundError

DEFAULT_REGION = "us-east-1"


def camera_arn(region: str, account_id: str, name: str, created_ms: int) -> str:
    return f"arn:aws:kinesisvideo:{region}:{account_id}:stream/{name}/{created_ms}"


def data_stream_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account_id}:stream/{name}"


def processor_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:rekognition:{region}:{account_id}:streamprocessor/{name}"


def name_in_arn(arn: object, service: str, account_id: str, what: str) -> str:
    """The resource name an ARN of ``service`` names (arn:aws:<service>:<region>:<account>:
    stream/<name>[/...]); ResourceNotFoundError when it is another account's."""
    if not isinstance(arn, str):
        raise InvalidParameterError(f"the {what} ARN must be a string")
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != service:
        raise InvalidParameterError(f"{arn[:300]!r} is not a {what} ARN (arn:aws:{service}:...)")
    kind, _, rest = parts[5].partition("/")
    name = rest.split("/", 1)[0]
    if kind != "stream" or not name:
        raise InvalidParameterError(f"{arn[:300]!r} names no stream (…:stream/<name>)")
    if parts[4] != account_id:
        raise ResourceNotFoundError(f"no {what} {name!r} in account {account_id}")
    return name
