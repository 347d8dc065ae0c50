"""A stream processor that was RUNNING when its server died (SIGKILL) runs again when the
server starts, and goes on reporting."""

from __future__ import annotations

import signal
from pathlib import Path

from facewise.pipeline.analyzer import FaceAnalyzer
from tests.api.server import ServerProcess
from tests.api.test_streams import ROLE, _camera_arn, _data_stream_arn, _records, _status, _until


def test_a_running_processor_runs_again_after_a_crash(
    tmp_path: Path,
    data_dir: Path,
    analyzer: FaceAnalyzer,
    crossing_video: Path,
    astronaut_jpeg: bytes,
) -> None:
    server = ServerProcess(tmp_path / "data").start(models_from=data_dir)
    try:
        rekognition, kinesis = server.client(), server.kinesis()
        rekognition.create_collection(CollectionId="hall")
        rekognition.index_faces(CollectionId="hall", Image={"Bytes": astronaut_jpeg})
        camera = _camera_arn(server, "hall", str(crossing_video), "--loop")
        output = _data_stream_arn(kinesis, "hall-matches")
        rekognition.create_stream_processor(
            Name="hall-watch",
            Input={"KinesisVideoStream": {"Arn": camera}},
            Output={"KinesisDataStream": {"Arn": output}},
            Settings={"FaceSearch": {"CollectionId": "hall"}},
            RoleArn=ROLE,
        )
        rekognition.start_stream_processor(Name="hall-watch")
        _until(lambda: len(_records(kinesis, "hall-matches")) >= 1, 30, "a first record")
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        key = (server.access_key_id, server.secret)  # printed by the first start only
        server = ServerProcess(tmp_path / "data").start()
        server.access_key_id, server.secret = key
        rekognition, kinesis = server.client(), server.kinesis()
        counted = len(_records(kinesis, "hall-matches"))
        _until(lambda: _status(rekognition, "hall-watch")["Status"] == "RUNNING", 30, "RUNNING")
        _until(lambda: len(_records(kinesis, "hall-matches")) > counted, 30, "new records")
        rekognition.stop_stream_processor(Name="hall-watch")
        _until(lambda: _status(rekognition, "hall-watch")["Status"] == "STOPPED", 5, "STOPPED")
    finally:
        server.stop()
