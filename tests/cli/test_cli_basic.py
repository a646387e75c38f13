from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np

import xmtag
from xmtag.cli import main


def test_version_flag(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert xmtag.__version__ in capsys.readouterr().out


def test_python_dash_m(tmp_path):
    out = subprocess.run([sys.executable, "-m", "xmtag", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"xmtag {xmtag.__version__}"


def test_info_json(tmp_path, capsys):
    p = xmtag.save_audio(tmp_path / "x.wav", np.full((2, 800), 0.5, np.float32), 8000)
    assert main(["info", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["channels"] == 2 and out["samples"] == 800 and out["duration_s"] == 0.1 and out["peak"] == 0.5


def test_cli_in_process_leaves_logging_as_it_found_it(tmp_path, capsys):
    """`-q` / `-v` apply to one command: a notebook or test calling main() keeps its log levels."""
    log = logging.getLogger("xmtag")
    log.setLevel(logging.INFO)
    try:
        p = xmtag.save_audio(tmp_path / "x.wav", np.zeros((1, 800), np.float32), 8000)
        for flags in (["-q"], ["-vv"], []):
            assert main([*flags, "info", str(p)]) == 0
            assert log.level == logging.INFO
        assert main(["-q", "info", str(tmp_path / "missing.wav")]) == 1  # the error path too
        assert log.level == logging.INFO
    finally:
        log.setLevel(logging.NOTSET)
    capsys.readouterr()


def test_error_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xmtag: error:") and str(bad) in err and "Traceback" not in err


def test_import_is_light():
    code = "import sys, xmtag; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_output_into_a_closed_pipe_is_not_a_traceback(tmp_path):
    """`xmtag tag ... | head -1`: the reader leaves early; xmtag stops quietly (exit 141), no traceback."""
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    clip = root / "tests" / "data" / "musicnn" / "clip.flac"
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "xmtag", "-q", "tag", str(clip), str(clip), "--csv", "--top", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    proc.stdout.close()  # the reader is gone before xmtag prints anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_global_flags_work_after_the_subcommand():
    """`xmtag transcribe talk.mp4 -q` was refused: -q and -v only worked before the command (#25)."""
    from xmtag.cli import build_parser

    parser = build_parser()
    commands = (["tag", "a.wav"], ["explain", "song/"], ["corpus", "summarize", "store/"], ["cache", "info"])
    for command in commands:
        before, after = parser.parse_args(["-q", *command]), parser.parse_args([*command, "-q"])
        assert before.quiet and after.quiet and not parser.parse_args(command).quiet
        assert parser.parse_args([*command, "-vv"]).verbose == 2
        assert parser.parse_args(["-vv", *command]).verbose == 2
