"""A real `facewise serve` process on loopback, and boto3 clients signed for it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.api.shape_check import shape_problems
from tests.live.services import die_with_parent

URL_LINE = re.compile(r"serving Amazon Rekognition's API on (http://\S+)")
STARTUP_SECONDS = 120


@dataclass
class ServerProcess:
    """`facewise serve --port 0` in a subprocess; its output is kept in ``log``."""

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    url: str = ""
    access_key_id: str = ""
    secret: str = ""
    log: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None

    def start(self, models_from: Path | None = None) -> ServerProcess:
        copy_models(models_from, self.data_dir)
        command = ["serve", "--port", "0", "--data-dir", str(self.data_dir), *self.extra_args]

        def read(line: str) -> bool:
            if found := URL_LINE.search(line):
                self.url = found[1]
            if line.startswith("export AWS_ACCESS_KEY_ID="):
                self.access_key_id = line.split("=", 1)[1].strip()
            if line.startswith("export AWS_SECRET_ACCESS_KEY="):
                self.secret = line.split("=", 1)[1].strip()
            return "Application startup complete" in line

        self.process = launch(command, self.extra_env, self.log, read, self.cwd)
        if not self.url or self.process.poll() is not None:
            raise RuntimeError("facewise serve did not start:\n" + "".join(self.log))
        return self

    def keys(self, *args: str) -> str:
        """The output of `facewise keys ARGS` on this server's data directory."""
        return self.cli("keys", *args)

    def create_key(self, account: str) -> tuple[str, str]:
        """A new key for ``account`` made with `facewise keys create`."""
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in self.keys("create", "--account", account).splitlines()
            if line.startswith("export ")
        )
        return values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]

    def client(
        self,
        access_key_id: str | None = None,
        secret: str | None = None,
        region: str = "us-east-1",
        retries: int = 1,
    ):  # type: ignore[no-untyped-def]
        """A boto3 Rekognition client for this server (no retries unless asked)."""
        client = boto3.client(
            "rekognition",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret or self.secret,
            config=Config(retries={"max_attempts": retries, "mode": "standard"}),
        )
        client.meta.events.register("after-call.rekognition", check_response_shape)
        return client

    def kinesis(self, access_key_id: str | None = None, secret: str | None = None):  # type: ignore[no-untyped-def]
        """A boto3 Kinesis client for this server's data streams."""
        return boto3.client(
            "kinesis",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret or self.secret,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def admin_get(
        self, path: str, key: tuple[str, str] | None = None, **query: Any
    ) -> tuple[int, bytes]:
        """(status, body) of a GET of facewise's own endpoints, signed for the service
        ``facewise`` (with the first key unless another is given)."""
        url = f"{self.url}{path}" + (f"?{urlencode(query)}" if query else "")
        request = AWSRequest(method="GET", url=url)
        credentials = Credentials(*(key or (self.access_key_id, self.secret)))
        SigV4Auth(credentials, "facewise", "us-east-1").add_auth(request)
        prepared = urllib.request.Request(url, headers=dict(request.headers.items()))
        try:
            with urllib.request.urlopen(prepared, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def audit_records(self, key: tuple[str, str] | None = None, **query: Any) -> list[Any]:
        """The signing key's account's audit records matching the query (up to 1,000)."""
        status, body = self.admin_get("/facewise/audit/records", key, limit=1000, **query)
        assert status == 200, body
        return list(json.loads(body)["Records"])

    def cli(self, *args: str) -> str:
        """The output of `facewise ARGS` on this server's data directory."""
        command = [sys.executable, "-m", "facewise.cli.main", *args]
        return subprocess.run(
            [*command, "--data-dir", str(self.data_dir)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, **self.extra_env},
        ).stdout

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the server and wait for it to exit; its exit status."""
        assert self.process is not None
        return stop_process(self.process, sig, timeout)

    def output(self) -> str:
        return "".join(self.log)


def copy_models(models_from: Path | None, data_dir: Path) -> None:
    """Give a data directory the converted models of another (no second conversion)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if models_from is not None and (models_from / "models").is_dir():
        shutil.copytree(models_from / "models", data_dir / "models", dirs_exist_ok=True)


def launch(
    args: list[str],
    env: dict[str, str],
    log: list[str],
    ready: Callable[[str], bool],
    cwd: Path | None = None,
) -> subprocess.Popen[str]:
    """`facewise ARGS` in a subprocess, its output read into ``log`` until ``ready(line)``
    (or STARTUP_SECONDS), then kept in ``log`` by a thread of its own."""
    process = subprocess.Popen(
        [sys.executable, "-m", "facewise.cli.main", *args],
        preexec_fn=die_with_parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        cwd=cwd,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    for line in process.stdout:
        log.append(line)
        if ready(line) or time.monotonic() > deadline:
            break
    threading.Thread(target=lambda: log.extend(process.stdout or ()), daemon=True).start()
    return process


def stop_process(process: subprocess.Popen[str], sig: int, timeout: float) -> int:
    """Signal a process (unless it has exited) and wait for it; its exit status."""
    if process.poll() is None:
        process.send_signal(sig)
    return process.wait(timeout=timeout)


def code_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """The error code and HTTP status of a refused boto3 call."""
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def check_response_shape(http_response, parsed, model, **_: object) -> None:  # type: ignore[no-untyped-def]
    """Every successful answer, as it came over the wire, must fit the operation's output
    shape exactly: a key botocore does not know would be silently lost by boto3."""
    if http_response.status_code != 200 or model.output_shape is None:
        return
    problems = shape_problems(json.loads(http_response.content), model.output_shape)
    assert not problems, f"{model.name} answered outside its shape: {problems}"
