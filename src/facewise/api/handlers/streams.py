"""CreateStreamProcessor, DescribeStreamProcessor, ListStreamProcessors, Start..., Stop...,
UpdateStreamProcessor and DeleteStreamProcessor."""

from __future__ import annotations

from facewise.api import errors
from facewise.api import shapes_streams as out
from facewise.api.handlers.call import Call, Json
from facewise.service.stream_processors import StreamProcessors

CONNECTED_HOME_REFUSAL = (
    "ConnectedHome (people, pets and packages) is not supported: facewise has no person "
    "detector yet; use Settings.FaceSearch"
)


class StreamProcessorHandlers:
    def __init__(self, call: Call) -> None:
        self.processors = StreamProcessors(call.context, call.caller)
        self.region = call.region
        self.call = call

    def create_stream_processor(self, params: Json) -> Json:
        settings = params["Settings"]
        if "ConnectedHome" in settings:
            raise errors.InvalidParameter(CONNECTED_HOME_REFUSAL)
        if "FaceSearch" not in settings or "CollectionId" not in settings["FaceSearch"]:
            raise errors.InvalidParameter("Settings.FaceSearch.CollectionId is required")
        output = params["Output"]
        if "KinesisDataStream" not in output:
            raise errors.InvalidParameter(
                "Output.KinesisDataStream is required (S3Destination is for ConnectedHome)"
            )
        if "KinesisVideoStream" not in params["Input"]:
            raise errors.InvalidParameter("Input.KinesisVideoStream is required")
        search = settings["FaceSearch"]
        channel = params.get("NotificationChannel")
        self.processors.create(
            params["Name"],
            params["Input"]["KinesisVideoStream"]["Arn"],
            output["KinesisDataStream"]["Arn"],
            search["CollectionId"],
            search.get("FaceMatchThreshold"),
            out.regions_of_interest(params.get("RegionsOfInterest")),
            None if channel is None else channel["SNSTopicArn"],
            params.get("Tags"),
            params.get("RoleArn"),
            params.get("KmsKeyId"),
            params.get("DataSharingPreference", {}).get("OptIn", False),
        )
        return {"StreamProcessorArn": self.processors.arn(params["Name"], self.region)}

    def describe_stream_processor(self, params: Json) -> Json:
        info = self.processors.describe(params["Name"])
        return out.describe_stream_processor_response(info, self.region, self.call.account_id)

    def list_stream_processors(self, params: Json) -> Json:
        page = self.processors.list_processors(params.get("MaxResults"), params.get("NextToken"))
        shown: Json = {
            "StreamProcessors": [{"Name": p.name, "Status": p.status} for p in page.items]
        }
        if page.next_token is not None:
            shown["NextToken"] = page.next_token
        return shown

    def start_stream_processor(self, params: Json) -> Json:
        if "StartSelector" in params:
            raise errors.InvalidParameter(
                "StartSelector is for Kinesis video fragments; a facewise camera starts live"
            )
        stop = params.get("StopSelector", {}).get("MaxDurationInSeconds")
        return {"SessionId": self.processors.start(params["Name"], stop)}

    def stop_stream_processor(self, params: Json) -> Json:
        self.processors.stop(params["Name"])
        return {}

    def update_stream_processor(self, params: Json) -> Json:
        if "ConnectedHomeForUpdate" in params.get("SettingsForUpdate", {}):
            raise errors.InvalidParameter(CONNECTED_HOME_REFUSAL)
        sharing = params.get("DataSharingPreferenceForUpdate")
        self.processors.update(
            params["Name"],
            out.regions_of_interest(params.get("RegionsOfInterestForUpdate")),
            None if sharing is None else sharing["OptIn"],
            params.get("ParametersToDelete"),
        )
        return {}

    def delete_stream_processor(self, params: Json) -> Json:
        self.processors.delete(params["Name"])
        return {}
