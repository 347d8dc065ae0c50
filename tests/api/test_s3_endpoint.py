"""Images by S3Object from an S3-compatible endpoint (moto's S3 server on loopback)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from facewise.pipeline.analyzer import FaceAnalyzer
from tests.api.server import ServerProcess

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "s3-reader",
    "AWS_SECRET_ACCESS_KEY": "s3-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    pytest.importorskip("moto.server", reason="moto[server] is a test dependency")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "moto's S3 server did not start"
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)


def _s3(s3_url: str):  # type: ignore[no-untyped-def]
    """A boto3 S3 client for moto's server, with the keys the facewise server reads with."""
    return boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name="us-east-1",
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="module")
def s3_server(
    s3_url: str, tmp_path_factory: pytest.TempPathFactory, data_dir: Path, analyzer: FaceAnalyzer
) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("s3-served"),
        ["--s3-endpoint-url", s3_url],
        extra_env=S3_ENV,
    ).start(models_from=data_dir)
    yield process
    process.stop()


def test_images_from_an_s3_endpoint(
    s3_url: str, s3_server: ServerProcess, hopper_jpeg: bytes
) -> None:
    s3 = _s3(s3_url)
    s3.create_bucket(Bucket="camera-stills")
    s3.put_object(Bucket="camera-stills", Key="2026/12/01/door.jpg", Body=hopper_jpeg)
    s3.put_object(Bucket="camera-stills", Key="notes.txt", Body=b"not a photo")
    rekognition = s3_server.client()
    reference = {"S3Object": {"Bucket": "camera-stills", "Name": "2026/12/01/door.jpg"}}
    by_reference = rekognition.detect_faces(Image=reference)
    assert (
        by_reference["FaceDetails"]
        == rekognition.detect_faces(Image={"Bytes": hopper_jpeg})["FaceDetails"]
    )
    rekognition.create_collection(CollectionId="door")
    indexed = rekognition.index_faces(CollectionId="door", Image=reference)
    assert len(indexed["FaceRecords"]) == 1
    with pytest.raises(rekognition.exceptions.InvalidS3ObjectException):
        rekognition.detect_faces(
            Image={"S3Object": {"Bucket": "camera-stills", "Name": "nope.jpg"}}
        )
    with pytest.raises(rekognition.exceptions.InvalidS3ObjectException):
        rekognition.detect_faces(Image={"S3Object": {"Bucket": "no-bucket", "Name": "a.jpg"}})
    with pytest.raises(rekognition.exceptions.InvalidImageFormatException):
        rekognition.detect_faces(
            Image={"S3Object": {"Bucket": "camera-stills", "Name": "notes.txt"}}
        )


def test_a_video_job_reads_its_video_from_the_s3_endpoint(
    s3_url: str, s3_server: ServerProcess, crossing_video: Path
) -> None:
    """The video is downloaded to a temporary file for the job, then analysed."""
    s3 = _s3(s3_url)
    s3.create_bucket(Bucket="cctv")
    s3.put_object(Bucket="cctv", Key="door/crossing.mp4", Body=crossing_video.read_bytes())
    rekognition = s3_server.client()
    video = {"S3Object": {"Bucket": "cctv", "Name": "door/crossing.mp4"}}
    job_id = rekognition.start_face_detection(Video=video)["JobId"]
    deadline = time.monotonic() + 120
    while (answer := rekognition.get_face_detection(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.25)
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    assert answer["Video"] == video and answer["VideoMetadata"]["Codec"] == "h264"
    assert len([f for f in answer["Faces"] if f["Timestamp"] == 2000]) == 2
    with pytest.raises(rekognition.exceptions.InvalidS3ObjectException):
        rekognition.start_face_detection(Video={"S3Object": {"Bucket": "cctv", "Name": "nope"}})
