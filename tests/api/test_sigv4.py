"""verify(): the signature check on its own, with a fixed clock (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewise.api import errors
from facewise.api.sigv4 import SignedRequest, verify
from facewise.store.records import AccessKey
from tests.api.raw import signed_headers

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
URL = "http://127.0.0.1:8080"
KEY = AccessKey("FWTESTKEY0000000000A", "s3cret", "acme", 0)
BODY = b'{"CollectionId": "x"}'


def lookup(access_key_id: str) -> AccessKey | None:
    return KEY if access_key_id == KEY.access_key_id else None


def request(headers: dict[str, str], body: bytes = BODY) -> SignedRequest:
    lowered = {name.lower(): value for name, value in headers.items()}
    lowered.setdefault("host", "127.0.0.1:8080")
    return SignedRequest("POST", lowered["host"], "/", "", lowered, body)


def signed(**options: object) -> dict[str, str]:
    return signed_headers(
        URL,
        BODY,
        "RekognitionService.DescribeCollection",
        KEY.access_key_id,
        KEY.secret,
        when=options.pop("when", NOW),
        **options,  # type: ignore[arg-type]
    )


def test_valid_signature_names_the_caller() -> None:
    caller = verify(request(signed(region="eu-west-3")), lookup, NOW)
    assert (caller.account, caller.region) == ("acme", "eu-west-3")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda h: h.update({"X-Amz-Target": "RekognitionService.DeleteCollection"}),
            errors.InvalidSignature,
        ),
        (lambda h: h.update({"host": "evil.example:8080"}), errors.InvalidSignature),
        (lambda h: h.pop("X-Amz-Date"), errors.IncompleteSignature),
        (lambda h: h.update({"X-Amz-Date": "yesterday"}), errors.IncompleteSignature),
        (lambda h: h.update({"X-Amz-Date": "20261201T115959Z"}), errors.InvalidSignature),
        (lambda h: h.pop("X-Amz-Target"), errors.InvalidSignature),
        (
            lambda h: h.update(
                {
                    "Authorization": h["Authorization"].replace(
                        "FWTESTKEY0000000000A", "FWOTHERKEY000000000A"
                    )
                }
            ),
            errors.UnrecognizedClient,
        ),
        (
            lambda h: h.update({"Authorization": h["Authorization"].replace("host;", "")}),
            errors.InvalidSignature,
        ),
        (
            lambda h: h.update(
                {"Authorization": h["Authorization"].replace("20261201/", "20261130/")}
            ),
            errors.InvalidSignature,
        ),
        (
            lambda h: h.update({"Authorization": h["Authorization"][:-1] + "0"}),
            errors.InvalidSignature,
        ),
        (
            lambda h: h.update({"Authorization": h["Authorization"].replace("Signature=", "Sig=")}),
            errors.IncompleteSignature,
        ),
        (lambda h: h.pop("Authorization"), errors.MissingAuthenticationToken),
    ],
)
def test_any_change_is_refused(change, error: type[errors.AwsError]) -> None:  # type: ignore[no-untyped-def]
    headers = signed()
    change(headers)
    with pytest.raises(error):
        verify(request(headers), lookup, NOW)


def test_body_is_covered() -> None:
    with pytest.raises(errors.InvalidSignature):
        verify(request(signed(), body=BODY + b" "), lookup, NOW)


@pytest.mark.parametrize("minutes", [-15, 15])
def test_fifteen_minutes_of_skew_is_the_limit(minutes: int) -> None:
    verify(request(signed(when=NOW + timedelta(minutes=minutes))), lookup, NOW)
    with pytest.raises(errors.InvalidSignature, match=r"Signature (expired|not yet current)"):
        late = NOW + timedelta(minutes=minutes + (1 if minutes > 0 else -1))
        verify(request(signed(when=late)), lookup, NOW)


def test_revoked_key_is_unrecognized() -> None:
    revoked = AccessKey(KEY.access_key_id, KEY.secret, "acme", 0, revoked_at_ms=1)
    headers = signed()
    with pytest.raises(errors.UnrecognizedClient):
        verify(request(headers), lambda k: revoked if revoked.active else None, NOW)
