"""Hostile corpus: Ctrl-C (SIGINT) in the middle of audio encoding, in a child process.

Before the fix, soundfile's cffi write callbacks swallowed ``KeyboardInterrupt`` while MP3
bytes were encoded into a ``BytesIO``: the run printed "done", exited 0 and left a truncated
MP3 under its final name. Each case here interrupts a 20-minute encode (about 6 s of work)
a moment after it started and asserts a non-zero exit, a ``KeyboardInterrupt``, no "done",
nothing under the final name, and no temporary files left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from hostile_support import REPO

PRELUDE = """
import sys
import numpy as np
from xmtag._files import atomic_write_bytes
y = (0.3 * np.sin(np.arange(22050 * 1200, dtype=np.float32) * 0.05))[None]  # 20 minutes, mono
final = sys.argv[1]
print("start", flush=True)
"""

CASES = {
    "save_audio": "from xmtag.audio import save_audio\nsave_audio(final, y, 22050)\n",
    "encode_audio": (
        "from xmtag.audio import encode_audio\natomic_write_bytes(final, encode_audio(y, 22050, 'mp3'))\n"
    ),
    "report.audio_mp3": (
        "from xmtag.report import audio_mp3\natomic_write_bytes(final, audio_mp3(y, 22050))\n"
    ),
    "six_channel_stems": (
        "from xmtag.report import audio_mp3\n"
        "y = np.repeat(y[:, : 22050 * 300], 6, axis=0)\n"
        "atomic_write_bytes(final, audio_mp3(y, 22050))\n"
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sigint_while_encoding_leaves_nothing_and_fails(tmp_path, case):
    final = tmp_path / "out" / "listen-rock.mp3"
    final.parent.mkdir()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir)}
    code = PRELUDE + CASES[case] + "print('done', flush=True)\n"
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(final)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "start"
    time.sleep(0.4)  # well inside the ~6 s encode
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert "done" not in out, "the encode finished before the interrupt: make the audio longer"
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    assert not final.exists()  # nothing complete-looking under the final name
    assert list(final.parent.iterdir()) == []  # and no temporary file beside it
    assert list(tmpdir.iterdir()) == []  # the encoder's temporary folder was removed


def test_the_same_encode_completes_without_an_interrupt(tmp_path):
    """Control: the child script does finish and write the file when left alone (short audio)."""
    final = tmp_path / "ok.mp3"
    code = PRELUDE.replace("22050 * 1200", "22050 * 2") + CASES["encode_audio"] + "print('done')\n"
    done = subprocess.run(
        [sys.executable, "-c", code, str(final)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["start", "done"]
    import soundfile as sf

    info = sf.info(str(final))
    assert info.channels == 1 and abs(info.duration - 2.0) < 0.1


def test_cli_reports_an_interrupt_with_status_130(monkeypatch, capsys):
    from xmtag import cli

    def interrupted(args):
        raise KeyboardInterrupt

    parser = cli.build_parser()
    args = parser.parse_args(["cache", "info"])
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(args, "func", interrupted, raising=False)
    monkeypatch.setattr(parser, "parse_args", lambda argv=None: args)
    assert cli.main(["cache", "info"]) == 130
    assert "interrupted" in capsys.readouterr().err
