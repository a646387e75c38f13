"""What ``xmtag explain`` writes after the speed work of #27: the same files and bytes, with the
audio encoded in worker threads while the plots render; ``--no-plots`` / ``--no-report``."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import xmtag
from xmtag import Explanation, Stems
from xmtag.report import _export
from xmtag.report._encode import audio_mp3, render_plots

STEMS = ["drums", "bass", "guitar"]
LABELS = ["rock", "jazz", "pop"]


@pytest.fixture(scope="module")
def expl() -> Explanation:
    rng = np.random.default_rng(3)
    values = rng.uniform(0.05, 0.95, (8, len(LABELS)))
    values[0] = 0.01
    sr = 8000
    t = np.arange(2 * sr) / sr
    audio = Stems({s: 0.2 * np.sin(2 * np.pi * f * t) for s, f in zip(STEMS, (110, 220, 440))}, sr=sr)
    return Explanation.from_game(values, STEMS, LABELS, audio=audio)


def test_export_writes_the_bytes_of_encoding_one_after_the_other(expl, tmp_path, monkeypatch):
    """Listenable files are exactly what encoding each mix in turn gives, and the audio was encoded
    in the worker threads (not in the thread that renders the plots)."""
    threads = []
    real = _export._encode_mask

    def spy(e, mask):
        threads.append(threading.current_thread().name)
        return real(e, mask)

    monkeypatch.setattr(_export, "_encode_mask", spy)
    written = xmtag.export(expl, tmp_path / "out", top=3)
    listens = {k.split(":", 1)[1]: p for k, p in written.items() if k.startswith("listen:")}
    assert listens
    for tag, path in listens.items():
        pick = expl.smallest_coalition(tag)
        assert path.read_bytes() == audio_mp3(*expl.mix(pick.stems)), tag
    needed = {int(expl.smallest_coalition(t).mask) for t in listens} | {1, 2, 4}
    assert len(threads) == len(needed)  # each subset once, shared by the report and the files
    assert all(name.startswith("xmtag-encode") for name in threads)
    pngs = render_plots(expl, xmtag.report.shown_tags(expl, None, 3))
    for key, (_, png) in pngs.items():
        assert written[f"plot:{key}"].read_bytes() == png


def test_an_encoding_error_reaches_the_caller(expl, tmp_path, monkeypatch):
    def broken(e, mask):
        raise xmtag.errors.OutputError("Cannot encode mp3: planted")

    monkeypatch.setattr(_export, "_encode_mask", broken)
    with pytest.raises(xmtag.errors.OutputError, match="planted"):
        xmtag.export(expl, tmp_path / "out", top=1)


def test_nothing_is_encoded_without_audio(expl, tmp_path, monkeypatch):
    monkeypatch.setattr(_export, "_encode_mask", lambda e, m: pytest.fail("encoded"))
    written = xmtag.export(expl, tmp_path / "out", top=2, audio=False)
    assert "report" in written and not any(k.startswith("listen:") for k in written)


def test_workers_leave_a_core_to_the_plots(monkeypatch):
    monkeypatch.setattr(_export.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert _export._workers(10, plots=True) == 1
    assert _export._workers(10, plots=False) == 2
    assert _export._workers(1, plots=False) == 1


def test_cli_no_plots_and_no_report(expl, tmp_path, capsys):
    from xmtag.cli import build_parser
    from xmtag.cli.explain import write_outputs

    args = build_parser().parse_args(["explain", "song/", "--no-plots", "--top", "2"])
    args.quiet = False
    written = write_outputs(expl, tmp_path / "a", args)
    assert not any(k.startswith("plot:") for k in written) and not (tmp_path / "a" / "plots").exists()
    assert "report" in written and any(k.startswith("listen:") for k in written)
    assert "plots/" not in capsys.readouterr().out
    args = build_parser().parse_args(["explain", "song/", "--no-report", "--no-audio", "--open"])
    args.quiet = True
    written = write_outputs(expl, tmp_path / "b", args)
    assert "report" not in written and not (tmp_path / "b" / "report.html").exists()
    assert any(k.startswith("plot:") for k in written)
    assert "No report to open" in capsys.readouterr().out
