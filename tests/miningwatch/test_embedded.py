"""The embedded servers' command line, which bin/test uses to stop what the tests started."""

from __future__ import annotations

import pytest

from miningwatch import embedded


def test_nothing_runs_in_an_empty_directory(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MININGWATCH_VAR_DIR", str(tmp_path))
    assert embedded.embedded_running(tmp_path) == []
    embedded._main(["running"])
    assert capsys.readouterr().out.strip() == ""
    embedded._main(["stop", "postgres", "redis"])  # nothing to stop: no error


def test_an_unknown_command_says_how_to_use_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MININGWATCH_VAR_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match="usage: python -m miningwatch.embedded"):
        embedded._main(["restart"])
