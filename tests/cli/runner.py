"""Running the real `facewise` command in a subprocess, for the CLI tests."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODULE = [sys.executable, "-m", "facewise.cli.main"]


@dataclass(frozen=True)
class Run:
    """The outcome of one command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, f"{self.args} exited {self.returncode}:\n{self.stderr}"
        return json.loads(self.stdout)


def run(*args: object, cwd: Path, command: list[str] = MODULE) -> Run:
    """Run ``command`` with the arguments in ``cwd`` and keep what it printed."""
    argv = [*command, *(str(a) for a in args)]
    # The timeout only stops a hung run from hanging the suite; nothing asserts on time.
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=600, check=False)
    return Run(tuple(argv[len(command) :]), done.returncode, done.stdout, done.stderr)


def one_line_error(result: Run, error: str, detail: str) -> None:
    """The command failed on its input as the CLI promises: exit status 1, nothing on stdout,
    and one line ``facewise: <error>: ...`` naming ``detail`` on stderr, with no traceback."""
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr.startswith(f"facewise: {error}: "), result.stderr
    assert detail in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
