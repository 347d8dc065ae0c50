"""Every option of `facewise serve` and `facewise keys` is documented in docs/server.md."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from facewise.cli.main import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def _subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise AssertionError("no subcommands")


@pytest.mark.parametrize("command", ["serve", "keys"])
def test_every_option_is_documented(command: str) -> None:
    text = DOCS.read_text()
    options = [
        option
        for action in _subcommand(command)._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    assert options
    missing = [option for option in options if f"`{option}" not in text]
    assert not missing, f"docs/server.md does not document {missing}"


def test_every_keys_action_is_documented() -> None:
    text = DOCS.read_text()
    for action in ("create", "list", "revoke"):
        assert f"facewise keys {action}" in text
