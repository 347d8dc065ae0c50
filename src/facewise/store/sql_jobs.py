"""Stored-video jobs in the SQL database (store.protocols.JobStore)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from facewise.errors import ResourceNotFoundError
from facewise.store.records import Topic, VideoJob, VideoResult, now_ms
from facewise.store.sql_database import SqlDatabase

_COLUMNS = (
    "job_id, account, kind, status, status_message, request, client_token, fingerprint, "
    "metadata, attempts, created_at_ms, finished_at_ms"
)


def _job(row: Any) -> VideoJob:
    return VideoJob(*row)


class SqlJobStore:
    """Jobs, results and persons; results are written in batches as analysis goes."""

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database

    def create_job(self, job: VideoJob) -> tuple[VideoJob, bool]:
        with self.database.write() as db:
            if job.client_token is not None:
                row = db.execute(
                    f"SELECT {_COLUMNS} FROM video_jobs WHERE account = ? AND kind = ? "
                    "AND client_token = ?",
                    (job.account, job.kind, job.client_token),
                ).fetchone()
                if row is not None:
                    return _job(row), False
            db.execute(
                f"INSERT INTO video_jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.job_id,
                    job.account,
                    job.kind,
                    job.status,
                    job.status_message,
                    job.request,
                    job.client_token,
                    job.fingerprint,
                    job.metadata,
                    job.attempts,
                    job.created_at_ms,
                    job.finished_at_ms,
                ),
            )
        return job, True

    def job(self, account: str, job_id: str) -> VideoJob:
        row = (
            self.database.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM video_jobs WHERE account = ? AND job_id = ?",
                (account, job_id),
            )
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"no job {job_id!r}")
        return _job(row)

    def find_job(self, job_id: str) -> VideoJob | None:
        row = (
            self.database.connection()
            .execute(f"SELECT {_COLUMNS} FROM video_jobs WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        return None if row is None else _job(row)

    def unfinished_jobs(self) -> list[VideoJob]:
        rows = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM video_jobs WHERE status = 'IN_PROGRESS' "
            "ORDER BY created_at_ms, job_id"
        )
        return [_job(row) for row in rows]

    def start_attempt(self, job_id: str) -> int:
        with self.database.write() as db:
            db.execute("DELETE FROM video_results WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM video_persons WHERE job_id = ?", (job_id,))
            db.execute("UPDATE video_jobs SET attempts = attempts + 1 WHERE job_id = ?", (job_id,))
            row = db.execute(
                "SELECT attempts FROM video_jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        if row is None:
            raise ResourceNotFoundError(f"no job {job_id!r}")
        return int(row[0])

    def finish_job(
        self, job_id: str, status: str, message: str | None, metadata: str | None
    ) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE video_jobs SET status = ?, status_message = ?, "
                "metadata = coalesce(?, metadata), finished_at_ms = ? "
                "WHERE job_id = ? AND status = 'IN_PROGRESS'",
                (status, message, metadata, now_ms(), job_id),
            )

    def delete_job(self, job_id: str) -> None:
        with self.database.write() as db:
            db.execute("DELETE FROM video_jobs WHERE job_id = ?", (job_id,))

    def set_metadata(self, job_id: str, metadata: str) -> None:
        with self.database.write() as db:
            db.execute("UPDATE video_jobs SET metadata = ? WHERE job_id = ?", (metadata, job_id))

    def add_results(self, job_id: str, results: Sequence[VideoResult]) -> None:
        with self.database.write() as db:
            db.executemany(
                "INSERT INTO video_results VALUES (?, ?, ?, ?, ?)",
                [(job_id, r.seq, r.timestamp_ms, r.person, r.detail) for r in results],
            )

    def results(
        self, job_id: str, after: int, limit: int, by_person: bool = False
    ) -> list[tuple[int, VideoResult]]:
        order = "person, seq" if by_person else "seq"
        rows = self.database.connection().execute(
            f"SELECT seq, timestamp_ms, person, detail FROM video_results WHERE job_id = ? "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            (job_id, limit, after),
        )
        return [
            (after + i + 1, VideoResult(int(r[0]), int(r[1]), int(r[2]), str(r[3])))
            for i, r in enumerate(rows)
        ]

    def set_persons(self, job_id: str, persons: dict[int, str]) -> None:
        with self.database.write() as db:
            db.executemany(
                "INSERT INTO video_persons VALUES (?, ?, ?) "
                "ON CONFLICT (job_id, person) DO UPDATE SET matches = excluded.matches",
                [(job_id, person, matches) for person, matches in persons.items()],
            )

    def persons(self, job_id: str) -> dict[int, str]:
        rows = self.database.connection().execute(
            "SELECT person, matches FROM video_persons WHERE job_id = ?", (job_id,)
        )
        return {int(r[0]): str(r[1]) for r in rows}

    def delete_finished_before(self, time_ms: int) -> int:
        with self.database.write() as db:
            cursor = db.execute(
                "DELETE FROM video_jobs WHERE status != 'IN_PROGRESS' AND finished_at_ms < ?",
                (time_ms,),
            )
            return cursor.rowcount

    # -- topics (completion webhooks) ---------------------------------------------------------

    def add_topic(self, topic: Topic) -> Topic:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO topics VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, name) DO UPDATE "
                "SET url = excluded.url, secret = excluded.secret, "
                "created_at_ms = excluded.created_at_ms",
                (topic.account, topic.name, topic.url, topic.secret, topic.created_at_ms),
            )
        return topic

    def topic(self, account: str, name: str) -> Topic | None:
        row = (
            self.database.connection()
            .execute("SELECT * FROM topics WHERE account = ? AND name = ?", (account, name))
            .fetchone()
        )
        return None if row is None else Topic(*row)

    def topics(self, account: str | None = None) -> list[Topic]:
        if account is None:
            rows = self.database.connection().execute("SELECT * FROM topics ORDER BY account, name")
        else:
            rows = self.database.connection().execute(
                "SELECT * FROM topics WHERE account = ? ORDER BY name", (account,)
            )
        return [Topic(*row) for row in rows]

    def delete_topic(self, account: str, name: str) -> bool:
        with self.database.write() as db:
            cursor = db.execute(
                "DELETE FROM topics WHERE account = ? AND name = ?", (account, name)
            )
            return cursor.rowcount == 1
