"""A scale-out deployment in processes: `facewise serve` and `facewise worker`s sharing a
PostgreSQL store and a Redis queue."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.api.server import copy_models, launch, stop_process

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
        copy_models(models_from, self.data_dir)
        command = ["worker", "--data-dir", str(self.data_dir)]
        command += ["--concurrency", str(self.concurrency), *self.args]
        self.process = launch(command, self.env, self.log, lambda line: READY in line)
        if not any(READY in line for line in self.log) or self.process.poll() is not None:
            raise RuntimeError("facewise worker did not start:\n" + "".join(self.log))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        return stop_process(self.process, sig, timeout)

    def output(self) -> str:
        return "".join(self.log)
