"""A scale-out deployment in processes: `facewise serve` and `facewise worker`s sharing a
PostgreSQL store and a Redis queue."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.api.server import _die_with_parent

READY = "is taking video jobs from"


@dataclass
class WorkerProcess:
    """`facewise worker` in a subprocess; its output is kept in ``log``."""

    data_dir: Path
    env: dict[str, str]
    concurrency: int = 1
    args: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None

    def start(self, models_from: Path | None = None) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if models_from is not None and (models_from / "models").is_dir():
            shutil.copytree(models_from / "models", self.data_dir / "models", dirs_exist_ok=True)
        command = [sys.executable, "-m", "facewise.cli.main", "worker"]
        command += ["--data-dir", str(self.data_dir), "--concurrency", str(self.concurrency)]
        command += self.args
        self.process = subprocess.Popen(
            command,
            preexec_fn=_die_with_parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 120
        for line in self.process.stdout:
            self.log.append(line)
            if READY in line or time.monotonic() > deadline:
                break
        if not any(READY in line for line in self.log) or self.process.poll() is not None:
            raise RuntimeError("facewise worker did not start:\n" + "".join(self.log))
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return "".join(self.log)
