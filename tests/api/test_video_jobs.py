"""Rekognition Video's face detection and face search jobs through a real boto3 client, on
a video made from real photos: Eileen crosses, Grace crosses the other way, Eileen returns.

Only Eileen is in the collection: her two tracks must both name her face, at the times she
is on screen (within one sampled frame, 200 ms), and Grace must match nobody.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.server import ServerProcess, code_of
from tests.video.scenes import CROSSING, CROSSING_MS, Cast, crossing_walks
from tests.video.synth import encode, scene

SAMPLE_MS = 200


def _put(server: ServerProcess, name: str, data: bytes) -> dict[str, str]:
    path = server.data_dir / "buckets" / "videos" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"Bucket": "videos", "Name": name}


def _wait(get: Any, job_id: str, timeout_s: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = get(JobId=job_id)
        if answer["JobStatus"] != "IN_PROGRESS":
            return answer  # type: ignore[no-any-return]
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} still IN_PROGRESS after {timeout_s} s")


def _all_pages(get: Any, **params: Any) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        page = get(**params, **({"NextToken": token} if token else {}))
        items += page.get("Persons", page.get("Faces", []))
        token = page.get("NextToken")
        if not token:
            return items


@pytest.fixture(scope="module")
def crossing(server: ServerProcess, crossing_video: Path) -> dict[str, str]:
    return _put(server, "crossing.mp4", crossing_video.read_bytes())


@pytest.fixture(scope="module")
def eileen_face(rekognition, astronaut_jpeg: bytes) -> str:  # type: ignore[no-untyped-def]
    rekognition.create_collection(CollectionId="video-staff")
    indexed = rekognition.index_faces(
        CollectionId="video-staff", Image={"Bytes": astronaut_jpeg}, ExternalImageId="eileen"
    )
    return str(indexed["FaceRecords"][0]["Face"]["FaceId"])


def test_face_search_names_each_person_when_they_are_there(
    server: ServerProcess, rekognition, crossing: dict[str, str], eileen_face: str
) -> None:  # type: ignore[no-untyped-def]
    started_ms = int(time.time() * 1000)
    job_id = rekognition.start_face_search(
        Video={"S3Object": crossing}, CollectionId="video-staff", JobTag="door-1"
    )["JobId"]
    done = _wait(rekognition.get_face_search, job_id)
    assert done["JobStatus"] == "SUCCEEDED", done.get("StatusMessage")
    assert done["JobTag"] == "door-1" and done["Video"]["S3Object"] == crossing
    metadata = done["VideoMetadata"]
    assert metadata["Codec"] == "h264" and metadata["FrameRate"] == 25.0
    assert (metadata["FrameWidth"], metadata["FrameHeight"]) == (640, 360)
    assert abs(metadata["DurationMillis"] - CROSSING_MS) <= 40

    persons = _all_pages(rekognition.get_face_search, JobId=job_id, MaxResults=7)
    by_index: dict[int, list[dict[str, Any]]] = {}
    for entry in persons:
        by_index.setdefault(entry["Person"]["Index"], []).append(entry)
    named = {
        index: {m["Face"]["FaceId"] for m in entries[0]["FaceMatches"]}
        for index, entries in by_index.items()
    }
    spans = {
        index: (min(e["Timestamp"] for e in entries), max(e["Timestamp"] for e in entries))
        for index, entries in by_index.items()
    }
    eileen_tracks = sorted(i for i, faces in named.items() if faces == {eileen_face})
    others = [i for i, faces in named.items() if faces and faces != {eileen_face}]
    assert others == [], named
    # One track per walk of Eileen, each over the time she walks (± one sampled frame).
    walks = [(start, end) for who, start, end, _, _ in CROSSING if who == "eileen"]
    assert len(eileen_tracks) == len(walks), (spans, named)
    for index, (start, end) in zip(eileen_tracks, walks, strict=True):
        first, last = spans[index]
        assert abs(first - start) <= SAMPLE_MS and abs(last - (end - SAMPLE_MS)) <= SAMPLE_MS
    # Grace is found, tracked, and matched to nobody.
    grace = [i for i, faces in named.items() if not faces]
    assert grace, spans
    longest = max(grace, key=lambda i: spans[i][1] - spans[i][0])
    assert spans[longest][0] <= 1000 + SAMPLE_MS and spans[longest][1] >= 5000 - 2 * SAMPLE_MS
    # Sorted by person, then time.
    by_person = _all_pages(rekognition.get_face_search, JobId=job_id, SortBy="INDEX")
    keys = [(p["Person"]["Index"], p["Timestamp"]) for p in by_person]
    assert keys == sorted(keys) and len(keys) == len(persons)
    # One audit record for the job's search, by the key that started it, at the floor.
    (audited,) = [
        r
        for r in server.audit_records(operation="video_face_search", collection="video-staff")
        if r["ids"] == [eileen_face] and r["time_ms"] >= started_ms
    ]
    assert audited["access_key_id"] == server.access_key_id
    assert (audited["requested_threshold"], audited["applied_threshold"]) == (None, 90)
    assert audited["faces_searched"] >= len(eileen_tracks) + 1


def test_face_detection_finds_the_faces_at_each_moment(rekognition, crossing) -> None:  # type: ignore[no-untyped-def]
    job_id = rekognition.start_face_detection(Video={"S3Object": crossing}, FaceAttributes="ALL")[
        "JobId"
    ]
    done = _wait(rekognition.get_face_detection, job_id)
    assert done["JobStatus"] == "SUCCEEDED", done.get("StatusMessage")
    faces = _all_pages(rekognition.get_face_detection, JobId=job_id, MaxResults=50)
    at: dict[int, int] = {}
    for entry in faces:
        at[entry["Timestamp"]] = at.get(entry["Timestamp"], 0) + 1
        assert "AgeRange" in entry["Face"] and 0 < entry["Face"]["BoundingBox"]["Width"] < 1
    assert at.get(2000) == 2 and at.get(400) == 1 and 5400 not in at
    capped = rekognition.get_face_detection(JobId=job_id, MaxResults=5000)
    assert len(capped["Faces"]) == len(faces) <= 1000  # more than 1000 asks for 1000
    assert [e["Timestamp"] for e in faces] == sorted(e["Timestamp"] for e in faces)


def test_idempotent_start_and_job_errors(rekognition, crossing) -> None:  # type: ignore[no-untyped-def]
    first = rekognition.start_face_detection(Video={"S3Object": crossing}, ClientRequestToken="t1")
    again = rekognition.start_face_detection(Video={"S3Object": crossing}, ClientRequestToken="t1")
    assert first["JobId"] == again["JobId"]
    with pytest.raises(ClientError) as caught:
        rekognition.start_face_detection(
            Video={"S3Object": crossing}, ClientRequestToken="t1", JobTag="other"
        )
    assert code_of(caught) == ("IdempotentParameterMismatchException", 400)
    with pytest.raises(ClientError) as caught:
        rekognition.get_face_detection(JobId="0" * 32)
    assert code_of(caught) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as caught:  # a detection job is not a search job
        rekognition.get_face_search(JobId=first["JobId"])
    assert code_of(caught) == ("ResourceNotFoundException", 400)
    _wait(rekognition.get_face_detection, first["JobId"])
    from facewise.service.pagination import encode_token

    forged = [
        "garbage",
        encode_token(f"video:{first['JobId']}", "²"),  # a digit to str.isdigit, not to int
        encode_token(f"video:{first['JobId']}", "9" * 25),
        encode_token(f"video:{first['JobId']}", "-1"),
        encode_token("video:another-job", "1"),
    ]
    for token in forged:
        with pytest.raises(ClientError) as caught:
            rekognition.get_face_detection(JobId=first["JobId"], NextToken=token)
        assert code_of(caught) == ("InvalidPaginationTokenException", 400), token
    with pytest.raises(ClientError) as caught:
        rekognition.start_face_detection(Video={"S3Object": {"Bucket": "videos", "Name": "nope"}})
    assert code_of(caught) == ("InvalidS3ObjectException", 400)
    with pytest.raises(ClientError) as caught:
        rekognition.start_face_search(Video={"S3Object": crossing}, CollectionId="no-such")
    assert code_of(caught) == ("ResourceNotFoundException", 400)


def test_another_account_cannot_read_a_job(server: ServerProcess, rekognition, crossing) -> None:  # type: ignore[no-untyped-def]
    job_id = rekognition.start_face_detection(Video={"S3Object": crossing})["JobId"]
    key, secret = server.create_key("video-other")
    other = server.client(key, secret)
    with pytest.raises(ClientError) as caught:
        other.get_face_detection(JobId=job_id)
    assert code_of(caught) == ("ResourceNotFoundException", 400)
    _wait(rekognition.get_face_detection, job_id)


def _bad_videos(cast: Cast, folder: Path) -> dict[str, bytes]:
    whole = encode(scene(crossing_walks(cast)[:1], 2000), folder / "short.mp4").read_bytes()
    return {
        "empty.mp4": b"",
        "text.mp4": b"this is not a video\n" * 100,
        "truncated.mp4": whole[: len(whole) // 3],
        "photo.mp4": (Path(__file__).parent / "shape_check.py").read_bytes(),
    }


def test_bad_videos_fail_cleanly_and_the_server_keeps_serving(
    server: ServerProcess, rekognition, cast: Cast, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    start = rekognition.start_face_detection
    jobs = {
        name: start(Video={"S3Object": _put(server, name, data)})["JobId"]
        for name, data in _bad_videos(cast, tmp_path).items()
    }
    for name, job_id in jobs.items():
        done = _wait(rekognition.get_face_detection, job_id)
        assert done["JobStatus"] == "FAILED", name
        message = done["StatusMessage"]
        assert message and "facewise failed" not in message, (name, message)
        assert done["Faces"] == []
    assert rekognition.list_collections()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Traceback" not in server.output()


def test_a_finished_job_posts_rekognitions_message_to_its_topic(
    server: ServerProcess, rekognition, crossing
) -> None:  # type: ignore[no-untyped-def]
    """A receiver on loopback gets the signed completion message; a bad ARN is refused."""
    import http.server
    import threading

    from facewise.service.notifications import SIGNATURE_HEADER, verify

    received: list[tuple[str, bytes]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers[SIGNATURE_HEADER], body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/done"
        secret = server.cli("topics", "create", "video-done", "--url", url).splitlines()[1]
        channel = {
            "SNSTopicArn": "arn:aws:sns:us-east-1:000000000000:video-done",
            "RoleArn": "arn:aws:iam::000000000000:role/unused",
        }
        job_id = rekognition.start_face_detection(
            Video={"S3Object": crossing}, NotificationChannel=channel, JobTag="notify-me"
        )["JobId"]
        _wait(rekognition.get_face_detection, job_id)
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
        ((signature, body),) = received
        assert verify(secret, signature, body)
        assert not verify(secret, signature, body + b" ")
        message = json.loads(body)
        assert message["JobId"] == job_id and message["Status"] == "SUCCEEDED"
        assert message["API"] == "FACE_DETECTION" and message["JobTag"] == "notify-me"
        assert message["Video"] == {"S3ObjectName": crossing["Name"], "S3Bucket": "videos"}
        with pytest.raises(ClientError) as caught:
            rekognition.start_face_detection(
                Video={"S3Object": crossing},
                NotificationChannel={**channel, "SNSTopicArn": channel["SNSTopicArn"] + "x"},
            )
        assert code_of(caught) == ("InvalidParameterException", 400)
    finally:
        receiver.shutdown()


def test_a_rotated_phone_video_with_an_occlusion_and_a_scene_cut(
    server: ServerProcess, rekognition, cast: Cast, eileen_face: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Portrait phone video (stored turned, with rotation metadata): Eileen walks 0-3 s,
    hidden 1.0-1.8 s behind nothing at all (she is simply not drawn), then a cut to another
    shot where she walks 3-5 s. Two tracks (the cut), both her; the occlusion splits none."""
    import numpy as np
    from PIL import Image
    from skimage.data import coffee

    from tests.video.synth import Walk

    other_shot = np.asarray(Image.fromarray(coffee()).resize((360, 640)))
    plain = np.full((640, 360, 3), (96, 110, 120), np.uint8)
    walks = [Walk(cast.eileen, 0, 3000, 100), Walk(cast.eileen, 3000, 5000, 300)]
    frames = scene(walks, 5000, (360, 640), background=lambda t: plain if t < 3000 else other_shot)
    for number in range(25, 45):  # 1.0-1.8 s: she is not in view
        frames[number] = plain
    stored = [np.ascontiguousarray(np.rot90(f, k=-1)) for f in frames]
    video = encode(stored, tmp_path / "phone.mp4", rotation_deg=90)
    ref = _put(server, "phone.mp4", video.read_bytes())
    job_id = rekognition.start_face_search(Video={"S3Object": ref}, CollectionId="video-staff")[
        "JobId"
    ]
    done = _wait(rekognition.get_face_search, job_id)
    assert done["JobStatus"] == "SUCCEEDED", done.get("StatusMessage")
    assert (done["VideoMetadata"]["FrameWidth"], done["VideoMetadata"]["FrameHeight"]) == (360, 640)
    persons = _all_pages(rekognition.get_face_search, JobId=job_id)
    tracks: dict[int, list[int]] = {}
    for entry in persons:
        tracks.setdefault(entry["Person"]["Index"], []).append(entry["Timestamp"])
        assert [m["Face"]["FaceId"] for m in entry["FaceMatches"]] == [eileen_face]
    spans = sorted((min(t), max(t)) for t in tracks.values())
    assert spans == [(0, 2800), (3000, 4800)], spans
    assert not [t for t in tracks[min(tracks)] if 1000 <= t < 1800]
