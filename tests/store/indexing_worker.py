"""A bulk IndexFaces run in its own process, for the durability tests (not a test module).

python indexing_worker.py --data-dir D --model-dir M --photos P --collection C --tag T

Indexes every photo in P (sorted by name) into collection C of the store in D, round after
round, with ExternalImageId ``T:<round>:<photo stem>``. After each call returns it prints one
JSON line and flushes, so a reader knows exactly what was committed before a kill:

    {"event": "indexed", "external_image_id": ..., "face_ids": [...]}
    {"event": "deleting", "face_ids": [...]}   # printed before delete_faces is called
    {"event": "deleted", "face_ids": [...]}    # printed after it returned
    {"event": "done"}                          # after a clean close

Every ``--search-every`` images it searches by the last stored face, which brings the index up
to date and, with a small ``--snapshot-every``, writes index snapshots and compacts the change
log, so a kill can land in the middle of either.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer
from facewise.service.collections import FaceCollections
from facewise.service.context import ServiceContext


def open_collections(
    data_dir: Path, analyzer: FaceAnalyzer, snapshot_every: int
) -> FaceCollections:
    """FaceCollections.open, except that indexes snapshot every ``snapshot_every`` changes."""
    context = ServiceContext.open(data_dir, analyzer=analyzer, snapshot_every=snapshot_every)
    return FaceCollections(context)


def _say(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, required=True, help="holds models/")
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--tag", required=True, help="prefix of every ExternalImageId")
    parser.add_argument("--rounds", type=int, default=0, help="0: until killed")
    parser.add_argument("--snapshot-every", type=int, default=3)
    parser.add_argument("--search-every", type=int, default=2)
    parser.add_argument("--delete-every", type=int, default=0, help="0: never delete")
    args = parser.parse_args(argv)

    photos = sorted(p for p in args.photos.iterdir() if p.suffix in {".jpg", ".png"})
    analyzer = FaceAnalyzer(AnalyzerConfig(data_dir=args.model_dir, threads=1))
    faces = open_collections(args.data_dir, analyzer, args.snapshot_every)
    rounds = itertools.count() if args.rounds == 0 else range(args.rounds)
    done = 0
    last_face_id = None
    for round_number in rounds:
        for photo in photos:
            external_image_id = f"{args.tag}:{round_number}:{photo.stem}"
            result = faces.index_faces(args.collection, str(photo), external_image_id)
            face_ids = [indexed.face.face_id for indexed in result.indexed]
            _say("indexed", external_image_id=external_image_id, face_ids=face_ids)
            done += 1
            last_face_id = face_ids[0] if face_ids else last_face_id
            if args.delete_every and done % args.delete_every == 0 and face_ids:
                _say("deleting", face_ids=face_ids)
                faces.delete_faces(args.collection, face_ids)
                _say("deleted", face_ids=face_ids)
                last_face_id = None
            if done % args.search_every == 0 and last_face_id is not None:
                faces.search_faces(
                    args.collection, last_face_id, max_faces=4096, face_match_threshold=0
                )
    faces.close()
    _say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
