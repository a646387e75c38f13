"""Hostile inputs that used to end in a traceback: each now gives a clear ``XmtagError`` (or works).

Each case sets up the real condition (a real tag name, a real file, a real interrupt) and
checks the message names the input and what to do.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import xmtag
from xmtag.errors import XmtagError  # noqa: F401


# ------------------------------------------------------------------ plots: text we did not write
@pytest.mark.parametrize("plot", ["bar", "heatmap", "waterfall", "interactions"])
def test_dollar_names_are_not_mathtext(plot):
    """A tag `$_$` and a stem `b$x`: drawn verbatim, not parsed as (broken) mathtext."""
    from xmtag import plots

    expl = xmtag.Explanation.from_game(
        np.arange(8.0).reshape(8, 1) * [1, 2], ["$_$ a", "b$x", "c"], ["$_$", "r$^"]
    )
    fig = getattr(plots, plot)(expl) if plot == "heatmap" else getattr(plots, plot)(expl, "$_$")
    fig.savefig(io.BytesIO(), format="png")  # draws every text: raised ValueError before
    texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
    assert any(r"\$_\$" in t for t in texts)


# ------------------------------------------------------------------ provenance of the wrong type
@pytest.mark.parametrize(
    "extra",
    [
        {"audio": "44.1 kHz"},
        {"audio": {"duration": "inf", "sr": "x"}},
        {"audio": {"duration": float("inf")}},
        {"envelope_rate": "fast", "residual_db": "loud", "n_coalitions": "all", "source": "a file"},
        {"source": {"path": 7}, "tagger": ["x"], "separator": "demucs"},
    ],
)
def test_provenance_extras_of_the_wrong_type_do_not_crash_the_report(extra, tmp_path):
    from xmtag.explanation import Provenance
    from xmtag.report import to_html

    expl = xmtag.Explanation.from_game(
        np.arange(8.0).reshape(8, 1),
        ["a", "b", "c"],
        ["rock"],
        provenance=Provenance(created="", extra=extra),
    )
    assert "rock" in expl._repr_html_()
    assert "rock" in to_html(expl)
    again = xmtag.Explanation.load(expl.save(tmp_path / "e.xmtag"))  # and after a round trip
    assert "rock" in to_html(again)


def test_v2_file_with_provenance_not_a_dictionary_is_refused(tmp_path):
    import json
    import zipfile

    from xmtag.errors import ExplanationFileError

    src = xmtag.Explanation.from_game(np.arange(8.0).reshape(8, 1), ["a", "b", "c"], ["rock"]).save(
        tmp_path / "good.xmtag"
    )
    bad = tmp_path / "bad.xmtag"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "header.json":
                header = json.loads(data)
                assert header["format_version"] == 2
                header["provenance"] = ["44.1 kHz", "demucs"]
                data = json.dumps(header).encode()
            zout.writestr(info.filename, data)
    with pytest.raises(ExplanationFileError) as info:
        xmtag.Explanation.load(bad)
    msg = str(info.value)
    assert "bad.xmtag" in msg and "'provenance' is a list" in msg and "Recompute" in msg


# ------------------------------------------------------------------ summarize: deeply nested JSON
def test_summarize_deeply_nested_json(tmp_path):
    import os
    import subprocess
    import sys

    from hostile_support import REPO

    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    done = subprocess.run(
        [sys.executable, "-m", "xmtag", "summarize", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert done.returncode not in (0, 130), done
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert "deep.json" in done.stderr and "100,000 levels" in done.stderr and "MAX_JSON_DEPTH" in done.stderr


# ------------------------------------------------------------------ coalitions export: ambiguous stem names
@pytest.mark.parametrize("bad", ["drums+perc", " vocals"])
def test_export_refuses_a_stem_name_the_manifest_cannot_hold(bad, tmp_path):
    """A folder with drums+perc.wav: refused by `xmtag coalitions export` before any mix is written,
    not by `explain --scores` after every mix was scored."""
    import os
    import subprocess
    import sys

    import soundfile as sf
    from hostile_support import REPO, make_tone

    song = tmp_path / "song"
    song.mkdir()
    for name in (bad, "bass"):
        sf.write(song / f"{name}.wav", make_tone(220).T, 8000)
    out = tmp_path / "mixes"
    done = subprocess.run(
        [sys.executable, "-m", "xmtag", "coalitions", "export", str(song), "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert done.returncode not in (0, 130), done
    assert "Traceback" not in done.stderr
    assert repr(bad) in done.stderr and "Rename the stem" in done.stderr, done.stderr
    assert not out.exists() or not any(out.iterdir())


# ------------------------------------------------------------------ audio: a tiny broken mp3
def test_tiny_mp3_is_not_called_a_pipe(tmp_path):
    from xmtag.errors import AudioError

    path = tmp_path / "tiny.mp3"
    path.write_bytes(b"\xff\xfb\x90\x00" + bytes(56))  # an MPEG frame header and nothing else: 60 bytes
    with pytest.raises(AudioError) as info:
        xmtag.load_audio(path)
    msg = str(info.value)
    assert "tiny.mp3" in msg and "not a readable audio file" in msg and "60 bytes" in msg
    assert "pipe" not in msg and "does not exist" not in msg


# ------------------------------------------------------------------ Ctrl-C while the tagger runs
def test_ctrl_c_while_the_tagger_runs_exits_130_and_writes_nothing(tmp_path):
    """`xmtag explain` interrupted (SIGINT to the whole process group, as a terminal's Ctrl-C does)
    while the tagger scores the mixes: status 130, "interrupted", and no output folder content."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    from hostile_support import REPO

    demo = REPO / "xmtag" / "data" / "demo"
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "XMTAG_CACHE": str(tmp_path / "cache")}
    child = subprocess.Popen(
        [sys.executable, "-m", "xmtag", "explain", str(demo), "--out", str(out), "--no-cache"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    seen = bytearray()
    started = threading.Event()

    def watch() -> None:  # the progress bar ends lines with \r: read bytes, not lines
        while chunk := child.stderr.read1(256):
            seen.extend(chunk)
            if b"coalitions:" in seen:
                started.set()
        started.set()

    threading.Thread(target=watch, daemon=True).start()
    if not started.wait(240) or child.poll() is not None:
        child.kill()
        pytest.skip(f"the tagger did not start scoring: {bytes(seen)[-500:]!r}")
    time.sleep(1.0)
    os.killpg(child.pid, signal.SIGINT)
    rc = child.wait(timeout=120)
    time.sleep(0.2)
    assert rc == 130, bytes(seen)[-2000:]
    assert b"interrupted" in seen and b"Traceback" not in seen
    assert not out.exists() or not any(out.iterdir())


# ------------------------------------------------------------------ a cache entry lacking a field
def test_cache_entry_without_n_tagger_rows_is_recomputed(monkeypatch, caplog):
    """13 stems through the exact (cached) path, the cache answering with an entry whose meta lacks
    'n_tagger_rows' (another xmtag's entry): recomputed with a warning, not KeyError."""
    import xmtag.cache
    from xmtag.separation import Stems
    from xmtag.taggers import FunctionTagger

    class Store:
        def __init__(self):
            self.put_meta = None

        def get(self, namespace, key):
            return {"values": np.zeros((2**13, 1))}, {
                "names": [f"s{i}" for i in range(13)],
                "labels": ["loud"],
            }

        def put(self, namespace, key, arrays, meta):
            self.put_meta = meta

    store = Store()
    monkeypatch.setattr(xmtag.cache, "default_cache", lambda enabled=True: store)
    rng = np.random.default_rng(0)
    stems = Stems(
        {f"s{i}": (0.1 * rng.standard_normal((1, 400))).astype(np.float32) for i in range(13)}, sr=8000
    )
    tagger = FunctionTagger(
        lambda b: np.sqrt((np.asarray(b, np.float64) ** 2).mean(1, keepdims=True)), ["loud"], sample_rate=8000
    )
    with caplog.at_level("WARNING", logger="xmtag.pipeline"):
        expl = xmtag.explain(stems, tagger, method="exact", progress=False)
    assert expl.n_stems == 13 and np.abs(expl.values).sum() > 0
    assert "Ignoring a cache entry" in caplog.text and "n_tagger_rows" in caplog.text
    assert store.put_meta["n_tagger_rows"] > 0
