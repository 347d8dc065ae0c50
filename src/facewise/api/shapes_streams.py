"""Stream processors and their data stream records as Rekognition shows them."""

from __future__ import annotations

import json
from typing import Any

from facewise.api.shapes import face_detail
from facewise.api.shapes_collections import face
from facewise.service.arns import processor_arn
from facewise.service.stream_processors import ProcessorInfo
from facewise.service.stream_runner import MatchEvent
from facewise.video.live import RegionOfInterest

Json = dict[str, Any]


def regions_of_interest(params: list[Json] | None) -> list[RegionOfInterest] | None:
    """RegionsOfInterest (boxes and polygons, ratios) to the core's regions."""
    if params is None:
        return None
    regions = []
    for region in params:
        if "BoundingBox" in region and "Polygon" in region:
            regions.append(RegionOfInterest())  # refused: one or the other
        elif "BoundingBox" in region:
            box = region["BoundingBox"]
            ltwh = tuple(float(box.get(k, 0.0)) for k in ("Left", "Top", "Width", "Height"))
            regions.append(RegionOfInterest(box_ltwh=ltwh))  # type: ignore[arg-type]
        else:
            points = tuple((float(p["X"]), float(p["Y"])) for p in region.get("Polygon", []))
            regions.append(RegionOfInterest(polygon_xy=points))
    return regions


def _regions_json(regions: tuple[RegionOfInterest, ...]) -> list[Json]:
    shown: list[Json] = []
    for region in regions:
        if region.box_ltwh is not None:
            left, top, width, height = region.box_ltwh
            box = {"Left": left, "Top": top, "Width": width, "Height": height}
            shown.append({"BoundingBox": box})
        else:
            points = region.polygon_xy or ()
            shown.append({"Polygon": [{"X": x, "Y": y} for x, y in points]})
    return shown


def describe_stream_processor_response(info: ProcessorInfo, region: str, account_id: str) -> Json:
    record, settings = info.record, info.settings
    search: Json = {"CollectionId": record.collection}
    if settings.threshold is not None:
        search["FaceMatchThreshold"] = settings.threshold
    shown: Json = {
        "Name": record.name,
        "StreamProcessorArn": processor_arn(region, account_id, record.name),
        "Status": record.status,
        "CreationTimestamp": record.created_at_ms / 1000.0,
        "LastUpdateTimestamp": record.updated_at_ms / 1000.0,
        "Input": {"KinesisVideoStream": {"Arn": settings.input_arn}},
        "Output": {"KinesisDataStream": {"Arn": settings.output_arn}},
        "Settings": {"FaceSearch": search},
        "DataSharingPreference": {"OptIn": settings.data_sharing},
    }
    if record.status_message:
        shown["StatusMessage"] = record.status_message
    if settings.role_arn:
        shown["RoleArn"] = settings.role_arn
    if settings.kms_key_id:
        shown["KmsKeyId"] = settings.kms_key_id
    if settings.topic is not None:
        arn = f"arn:aws:sns:{region}:{account_id}:{settings.topic}"
        shown["NotificationChannel"] = {"SNSTopicArn": arn}
    if settings.regions:
        shown["RegionsOfInterest"] = _regions_json(settings.regions)
    return shown


def stream_record(event: MatchEvent) -> bytes:
    """The JSON record Rekognition writes to a Kinesis data stream for a face search
    stream processor, for one person (``Person`` is facewise's addition: the track)."""
    detected = face_detail(event.face, event.frame_wh)
    record = {
        "InputInformation": {
            "KinesisVideo": {
                "StreamArn": event.settings.input_arn,
                "FragmentNumber": str(event.frame_number + 1),
                "ServerTimestamp": event.arrived_ms / 1000.0,
                "ProducerTimestamp": event.arrived_ms / 1000.0,
                "FrameOffsetInSeconds": event.offset_ms / 1000.0,
            }
        },
        "StreamProcessorInformation": {"Status": "RUNNING"},
        "FaceSearchResponse": [
            {
                "DetectedFace": detected,
                "MatchedFaces": [
                    {"Similarity": m.similarity_pct, "Face": face(m.face)} for m in event.matches
                ],
                "Person": {"Index": event.track},
            }
        ],
    }
    return json.dumps(record, separators=(",", ":")).encode()
