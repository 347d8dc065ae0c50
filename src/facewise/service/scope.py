"""The base of the services that act inside one account over a ServiceContext."""

from __future__ import annotations

from facewise.errors import InvalidParameterError
from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.options import COLLECTION_ID, parse_limit, parse_name
from facewise.store.records import CollectionRecord

# Every collection records the model its descriptors come from and refuses others. The ONNX
# and dlib embedders run the same network (identical decisions), so they share one version.
FACE_MODEL_VERSION = "dlib-resnet-v1"
MAX_SEARCH_RESULTS = 4096  # Rekognition's cap on listed and matched faces
DEFAULT_PAGE_SIZE = 1000


class AccountService:
    """A service bound to one context and one caller (whose account scopes every name)."""

    def __init__(self, context: ServiceContext, caller: Caller | None = None) -> None:
        self.context = context
        self.caller = caller or Caller()

    @property
    def account(self) -> str:
        return self.caller.account

    def collection(self, collection_id: object) -> CollectionRecord:
        """The caller's collection of that name; ResourceNotFoundError if there is none."""
        name = parse_name("collection_id", collection_id, COLLECTION_ID)
        return self.context.store.collection(self.account, name)

    def check_collection(self, collection_id: str) -> None:
        """ResourceNotFoundError unless the collection exists (cheap; before costly work)."""
        self.collection(collection_id)

    def search_limit(
        self,
        record: CollectionRecord,
        requested: object,
        name: str,
        high: int = MAX_SEARCH_RESULTS,
        default: int = MAX_SEARCH_RESULTS,
    ) -> int:
        """MaxFaces/MaxUsers of a search (1 to ``high``, ``default`` when not given), lowered
        to the collection's cap; AccessDeniedError first if the caller may not search it."""
        self.context.policies.check_search(self.caller, record)
        limit = parse_limit(name, requested, 1, high, default)
        return self.context.policies.max_results(record, limit)

    def searchable_collection(self, collection_id: object) -> CollectionRecord:
        """The collection, if its descriptors come from the model this facewise computes."""
        record = self.collection(collection_id)
        if record.face_model_version != FACE_MODEL_VERSION:
            raise InvalidParameterError(
                f"collection {record.name!r} holds {record.face_model_version} descriptors; "
                f"this facewise computes {FACE_MODEL_VERSION}"
            )
        return record
