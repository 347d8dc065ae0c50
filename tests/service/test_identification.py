"""The one identification path, in milliseconds: services over the in-memory store and the
fake analyzer, with an audit sink that keeps what it is given.

Every search-like operation hands exactly one record to the audit sink, with the requested
and the applied threshold; "not given" means the named default (80; 75 for AssociateFaces),
raised to the floor. Most tests here lower the account's floor to 0 to see the defaults;
the floor tests keep it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facewise.errors import AccessDeniedError, InvalidParameterError, ResourceNotFoundError
from facewise.service.caller import Caller
from facewise.service.collections import FaceCollections
from facewise.service.context import ServiceContext
from facewise.service.faces import FaceAnalysisService
from facewise.service.identify import (
    ASSOCIATE_THRESHOLD,
    FACE_MATCH_THRESHOLD,
    Identification,
    MemoryAudit,
)
from facewise.service.images import ImageSource
from facewise.service.policy import DEFAULT_FLOOR
from facewise.store.indexes import CollectionIndexes
from tests.fakes.analyzer import FakeAnalyzer, People
from tests.fakes.memory_policies import MemoryPolicyStore
from tests.fakes.memory_store import MemoryFaceStore

# Similarity of each person to "ann": a near twin passes the default 80, "cousin" passes
# only AssociateFaces' default 75, and "bob" is nobody like her.
PEOPLE = People.at_similarities(ann=100, twin=90, cousin=77, bob=30)
CALLER = Caller("acme", "FWKEY", "request-1", "10.0.0.7")


@pytest.fixture
def audit() -> MemoryAudit:
    return MemoryAudit()


@pytest.fixture
def policies() -> MemoryPolicyStore:
    store = MemoryPolicyStore()
    store.set_account_floor(CALLER.account, 0.0)
    return store


@pytest.fixture
def context(
    tmp_path: Path, audit: MemoryAudit, policies: MemoryPolicyStore
) -> Iterator[ServiceContext]:
    store = MemoryFaceStore()
    yield ServiceContext(
        store=store,
        access_keys=store,
        indexes=CollectionIndexes(store, tmp_path / "indexes"),
        analyzer=FakeAnalyzer(PEOPLE),
        images=ImageSource(),
        audit=audit,
        policy_store=policies,
    )


@pytest.fixture
def faces(context: ServiceContext, audit: MemoryAudit) -> FaceCollections:
    service = FaceCollections(context, CALLER)
    service.create_collection("staff")
    for name in ("ann", "twin", "cousin", "bob"):
        service.index_faces("staff", PEOPLE.photo(name), external_image_id=name)
    assert audit.entries == []  # indexing is not an identification
    return service


def _ids(faces: FaceCollections, *names: str) -> list[str]:
    listed = faces.list_faces("staff").items
    return [f.face_id for n in names for f in listed if f.external_image_id == n]


def test_search_by_image_defaults_to_80_and_records_both_thresholds(faces, audit) -> None:
    result = faces.search_faces_by_image("staff", PEOPLE.photo("ann"))
    assert [m.face.external_image_id for m in result.matches] == ["ann", "twin"]
    assert [round(m.similarity_pct) for m in result.matches] == [100, 90]
    (entry,) = audit.entries
    assert entry.operation == Identification.SEARCH_FACES_BY_IMAGE
    assert (entry.requested_threshold, entry.applied_threshold) == (None, FACE_MATCH_THRESHOLD)
    assert entry.collection == "staff" and entry.account == CALLER.account
    assert (entry.access_key_id, entry.request_id, entry.source_address) == (
        CALLER.access_key_id,
        CALLER.request_id,
        CALLER.source_address,
    )
    assert entry.ids == tuple(_ids(faces, "ann", "twin")) and entry.faces_searched == 1
    assert entry.faces_matched == 2


def test_a_given_threshold_is_applied_and_recorded(faces, audit) -> None:
    result = faces.search_faces_by_image("staff", PEOPLE.photo("ann"), face_match_threshold=70)
    assert [m.face.external_image_id for m in result.matches] == ["ann", "twin", "cousin"]
    assert (audit.entries[0].requested_threshold, audit.entries[0].applied_threshold) == (70, 70)


@pytest.mark.parametrize("threshold", [-1, 100.5, float("nan"), "80", True])
def test_a_bad_threshold_is_refused_and_nothing_is_recorded(faces, audit, threshold) -> None:
    with pytest.raises(InvalidParameterError):
        faces.search_faces_by_image("staff", PEOPLE.photo("ann"), face_match_threshold=threshold)
    assert audit.entries == []


def test_search_faces_by_id_excludes_the_face_itself(faces, audit) -> None:
    ann = _ids(faces, "ann")[0]
    result = faces.search_faces("staff", ann)
    assert [m.face.external_image_id for m in result.matches] == ["twin"]
    assert audit.entries[0].operation == Identification.SEARCH_FACES
    assert audit.entries[0].ids == tuple(_ids(faces, "twin"))


def test_a_failed_search_is_not_recorded(faces, audit) -> None:
    with pytest.raises(ResourceNotFoundError):
        faces.search_faces("staff", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidParameterError, match="no face"):
        faces.search_faces_by_image("staff", PEOPLE.photo())
    assert audit.entries == []


def test_associate_faces_checks_at_75_by_default(faces, audit) -> None:
    ann, cousin, bob = _ids(faces, "ann", "cousin", "bob")
    faces.create_user("staff", "ann-user")
    faces.associate_faces("staff", "ann-user", [ann])
    result = faces.associate_faces("staff", "ann-user", [cousin, bob])
    assert result.changed == [cousin]
    assert [(f.face_id, f.reasons) for f in result.failed] == [(bob, ("low_match_confidence",))]
    assert [e.operation for e in audit.entries] == [Identification.ASSOCIATE_FACES] * 2
    assert audit.entries[1].applied_threshold == ASSOCIATE_THRESHOLD
    assert audit.entries[1].ids == (cousin,) and audit.entries[1].faces_searched == 2
    strict = faces.associate_faces("staff", "ann-user", [bob], user_match_threshold=20)
    assert strict.changed == [bob] and audit.entries[2].requested_threshold == 20


def test_user_searches_name_users_and_are_recorded(faces, audit) -> None:
    ann, twin, bob = _ids(faces, "ann", "twin", "bob")
    faces.create_user("staff", "ann-user")
    faces.create_user("staff", "bob-user")
    faces.associate_faces("staff", "ann-user", [ann])
    faces.associate_faces("staff", "bob-user", [bob])
    by_image = faces.search_users_by_image("staff", PEOPLE.photo("twin"))
    assert [m.user.user_id for m in by_image.matches] == ["ann-user"]
    by_face = faces.search_users("staff", face_id=twin)
    assert [m.user.user_id for m in by_face.matches] == ["ann-user"]
    by_user = faces.search_users("staff", user_id="bob-user", user_match_threshold=10)
    assert [m.user.user_id for m in by_user.matches] == ["ann-user"]
    kinds = [e.operation for e in audit.entries[2:]]
    assert kinds == [
        Identification.SEARCH_USERS_BY_IMAGE,
        Identification.SEARCH_USERS,
        Identification.SEARCH_USERS,
    ]
    assert [e.ids for e in audit.entries[2:]] == [("ann-user",)] * 3
    assert [e.applied_threshold for e in audit.entries[2:]] == [80, 80, 10]


def test_compare_faces_goes_through_the_same_path(context, audit) -> None:
    compare = FaceAnalysisService(context, CALLER)
    result = compare.compare_faces(PEOPLE.photo("ann"), PEOPLE.photo("twin", "cousin", "bob"))
    assert [round(m.similarity_pct) for m in result.matches] == [90]
    assert len(result.unmatched) == 2
    (entry,) = audit.entries
    assert entry.operation == Identification.COMPARE_FACES and entry.collection is None
    assert (entry.requested_threshold, entry.applied_threshold) == (None, 80)
    assert entry.faces_searched == 4 and entry.ids == () and entry.faces_matched == 1


def test_records_carry_no_image_bytes_or_descriptors(faces, audit) -> None:
    faces.search_faces_by_image("staff", PEOPLE.photo("ann"))
    values = vars(audit.entries[0]).values()
    assert all(isinstance(v, str | int | float | tuple | type(None)) for v in values)


def test_accounts_stay_apart_over_the_fakes(faces, context) -> None:
    other = FaceCollections(context, Caller("other"))
    assert other.list_collections().items == []
    with pytest.raises(ResourceNotFoundError):
        other.search_faces_by_image("staff", PEOPLE.photo("ann"))


def test_the_default_floor_raises_searches_and_the_record_shows_both(faces, audit, policies):
    del policies.floors[CALLER.account]  # the account never set one: DEFAULT_FLOOR (90)
    result = faces.search_faces_by_image("staff", PEOPLE.photo("ann"), face_match_threshold=50)
    names = [m.face.external_image_id for m in result.matches]
    assert names[0] == "ann" and "cousin" not in names  # cousin (77) passes 50, not 90
    assert all(m.similarity_pct >= DEFAULT_FLOOR for m in result.matches)
    (entry,) = audit.entries
    assert (entry.requested_threshold, entry.applied_threshold) == (50, DEFAULT_FLOOR)


def test_a_collection_minimum_overrides_the_account_floor(faces, audit):
    faces.set_policy("staff", min_threshold=95)
    result = faces.search_faces_by_image("staff", PEOPLE.photo("ann"))
    assert [m.face.external_image_id for m in result.matches] == ["ann"]
    assert audit.entries[-1].applied_threshold == 95
    compare = FaceAnalysisService(faces.context, CALLER)  # no collection: the account floor
    compare.compare_faces(PEOPLE.photo("ann"), PEOPLE.photo("cousin"), similarity_threshold=70)
    assert audit.entries[-1].applied_threshold == 70
    faces.set_policy("staff", min_threshold=None, max_results=1)
    capped = faces.search_faces_by_image("staff", PEOPLE.photo("ann"), max_faces=10)
    assert len(capped.matches) == 1


def test_a_collection_closed_to_search_keys(faces, context, audit):
    faces.set_policy("staff", search_keys=False)
    searcher = FaceCollections(context, Caller("acme", "FWSEARCH", role="search"))
    with pytest.raises(AccessDeniedError, match="search role"):
        searcher.search_faces_by_image("staff", PEOPLE.photo("ann"))
    assert audit.entries == []
    assert FaceCollections(context, CALLER).search_faces_by_image("staff", PEOPLE.photo("ann"))
    with pytest.raises(AccessDeniedError, match="admin"):
        searcher.set_policy("staff", search_keys=True)
