"""xmtag.corpus: a dataset into a store, resumably; bad inputs and faults (SIGKILL, a dead Dask worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xmtag
from xmtag.errors import AudioFileNotFoundError, OutputError, XmtagError
from xmtag.taggers import FunctionTagger

SR = 8000
CALLS = {"rows": 0}


def toy_fn(batch: np.ndarray) -> np.ndarray:
    CALLS["rows"] += batch.shape[0]
    rms = np.sqrt((batch.astype(np.float64) ** 2).mean(1, keepdims=True))
    return np.concatenate([np.tanh(4 * rms), 1 - np.exp(-2 * np.abs(batch).max(1, keepdims=True))], axis=1)


def toy_tagger() -> FunctionTagger:
    return FunctionTagger(toy_fn, ["rock", "jazz"], sample_rate=SR, name="corpus-toy")


def make_tracks(root: Path, n: int, stems=("drums", "bass"), start: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR) / SR
    for i in range(start, n):
        d = root / f"song{i}"
        d.mkdir(exist_ok=True)
        for k, name in enumerate(stems):
            y = (0.1 + 0.05 * i + 0.1 * k) * np.sin(2 * np.pi * (150 + 40 * i + 300 * k) * t)
            xmtag.save_audio(d / f"{name}.wav", np.stack([y, 0.5 * y]).astype(np.float32), SR)
    return root


def test_a_folder_of_stem_folders_into_a_store(tmp_path):
    src = make_tracks(tmp_path / "src", 3)
    labels = pd.DataFrame({"track": ["song0", "song1", "song2"], "genre": ["rock", "jazz", "rock"]})
    c = xmtag.corpus.explain(src, tmp_path / "store", tagger=toy_tagger(), manifest=labels, progress=False)
    assert len(c) == 3 and c.tracks == ["song0", "song1", "song2"] and c.failures.empty
    assert set(c.table.columns) >= {
        "track",
        "tag",
        "stem",
        "value",
        "stderr",
        "prediction",
        "base_value",
        "genre",
    }
    assert len(c.table) == 3 * 2 * 2 and not c.table.duplicated(["track", "tag", "stem"]).any()
    direct = xmtag.explain(src / "song1", toy_tagger(), cache=False, progress=False)
    np.testing.assert_allclose(c.explanation("song1").values, direct.values, atol=1e-12)
    s = c.summarize(by="genre", tags=["rock"], n_boot=200)
    rock = s[(s.genre == "rock") & (s.stem == "drums")].iloc[0]
    vals = c.table.query("genre == 'rock' and tag == 'rock' and stem == 'drums'")["value"]
    assert (
        rock.n == 2
        and rock["mean"] == pytest.approx(vals.mean())
        and np.isnan(rock.ci_low)
        and np.isnan(rock.ci_high)  # two tracks: too few for an interval
        and rock.interval == "too few"
        and rock.zero_in_ci
    )
    assert xmtag.corpus.load(tmp_path / "store").status(src) == {
        "done": 3,
        "failed": 0,
        "pending": 0,
        "total": 3,
    }


def test_a_rerun_computes_nothing_and_new_tracks_only(tmp_path):
    src = make_tracks(tmp_path / "src", 2)
    xmtag.corpus.explain(src, tmp_path / "store", tagger=toy_tagger(), progress=False)
    CALLS["rows"] = 0
    xmtag.corpus.explain(src, tmp_path / "store", tagger=toy_tagger(), progress=False)
    assert CALLS["rows"] == 0
    make_tracks(src, 3, start=2)  # song2 is new (rewriting a float WAV changes its PEAK timestamp)
    c = xmtag.corpus.explain(src, tmp_path / "store", tagger=toy_tagger(), progress=False, cache=False)
    assert CALLS["rows"] <= 4 and len(c) == 3  # 4 coalitions of song2's 2 stems


def test_bad_sources_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudioFileNotFoundError, match="has no tracks"):
        xmtag.corpus.explain(tmp_path / "empty", tmp_path / "s1", tagger=toy_tagger(), progress=False)
    with pytest.raises(XmtagError, match="no 'path' column"):
        xmtag.corpus.explain(pd.DataFrame({"file": ["a.wav"]}), tmp_path / "s2", tagger=toy_tagger())
    src = make_tracks(tmp_path / "src", 2)
    dup = pd.DataFrame({"path": [str(src / "song0"), str(src / "song1")], "track": ["x", "x"]})
    with pytest.raises(XmtagError, match="Duplicate track ids \\['x'\\]"):
        xmtag.corpus.explain(dup, tmp_path / "s3", tagger=toy_tagger())
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(OutputError, match="is a file"):
        xmtag.corpus.explain(src, tmp_path / "afile", tagger=toy_tagger(), progress=False)


def test_a_store_made_with_other_settings_is_never_mixed(tmp_path):
    src = make_tracks(tmp_path / "src", 1)
    xmtag.corpus.explain(src, tmp_path / "store", tagger=toy_tagger(), progress=False)
    with pytest.raises(XmtagError, match="other settings \\(segments: store None, now 2\\)"):
        xmtag.corpus.explain(src, tmp_path / "store", tagger=toy_tagger(), segments=2, progress=False)


def test_failing_tracks_go_to_the_failures_table_and_the_run_goes_on(tmp_path):
    src = make_tracks(tmp_path / "src", 2)
    bad = src / "broken"
    bad.mkdir()
    (bad / "drums.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    missing = pd.DataFrame(
        {"path": [str(src / "song0"), str(bad), str(tmp_path / "nowhere.wav")], "genre": ["a", "b", "c"]}
    )
    c = xmtag.corpus.explain(missing, tmp_path / "store", tagger=toy_tagger(), progress=False)
    assert c.tracks == [Path(src / "song0").with_suffix("").as_posix()]
    reasons = dict(zip(c.failures.track, c.failures.reason))
    assert len(reasons) == 2
    assert any("does not exist" in r for r in reasons.values())
    assert any("drums.wav" in r for r in reasons.values())
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "xmtag",
            "-q",
            "corpus",
            "explain",
            str(src),
            "--out",
            str(tmp_path / "cli"),
            "--tagger",
            "musicnn-msd",
            "--workers",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # the broken folder among good ones: exit status 1
    assert r.returncode == 1, r.stderr
    assert len(xmtag.corpus.load(tmp_path / "cli")) == 2


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import xmtag
    from xmtag.taggers import FunctionTagger

    def fn(batch):
        time.sleep(0.4)
        rms = np.sqrt((batch.astype(np.float64) ** 2).mean(1, keepdims=True))
        peak = 1 - np.exp(-2 * np.abs(batch).max(1, keepdims=True))
        return np.concatenate([np.tanh(4 * rms), peak], axis=1)

    tagger = FunctionTagger(fn, ["rock", "jazz"], sample_rate=8000, name="corpus-toy")
    xmtag.corpus.explain(sys.argv[1], sys.argv[2], tagger=tagger, progress=False, cache=False)
    """
)


def test_sigkill_mid_run_then_a_rerun_finishes_only_what_is_missing(tmp_path):
    src = make_tracks(tmp_path / "src", 6)
    store = tmp_path / "store"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(src), str(store)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((store / "tracks").glob("*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = len(list((store / "tracks").glob("*.json")))
    assert 2 <= done_before < 6
    for f in (store / "tracks").glob("*.xmtag"):  # nothing half-written under a final name
        xmtag.Explanation.load(f)
    CALLS["rows"] = 0
    c = xmtag.corpus.explain(src, store, tagger=toy_tagger(), progress=False, cache=False)
    assert len(c) == 6 and not c.table.duplicated(["track", "tag", "stem"]).any()
    assert CALLS["rows"] <= 4 * (6 - done_before)  # 2 stems: at most 4 coalitions per missing track


def test_a_dask_worker_killed_mid_run_loses_no_track(tmp_path):
    distributed = pytest.importorskip("distributed")
    src = make_tracks(tmp_path / "src", 6)

    def slow(batch: np.ndarray) -> np.ndarray:
        time.sleep(0.3)
        return toy_fn(batch)

    tagger = FunctionTagger(slow, ["rock", "jazz"], sample_rate=SR, name="corpus-toy")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)  # {worker address: pid}
        victim = pids[sorted(pids)[0]]
        state = {"stop": False, "killed": False}
        store = tmp_path / "store"

        def kill_when_started() -> None:
            while not state["stop"]:
                if any((store / "tracks").glob("*.json")):
                    os.kill(victim, signal.SIGKILL)  # mid-run: the worker dies with a task in hand
                    state["killed"] = True
                    return
                time.sleep(0.02)

        import threading

        th = threading.Thread(target=kill_when_started, daemon=True)
        th.start()
        c = xmtag.corpus.explain(src, store, tagger=tagger, client=client, progress=False, cache=False)
        state["stop"] = True
        th.join(timeout=5)
        assert state["killed"]
    assert len(c) == 6 and c.failures.empty
    assert sorted(c.table.track.unique()) == [f"song{i}" for i in range(6)]
    assert not c.table.duplicated(["track", "tag", "stem"]).any()


def test_corpus_faithfulness_by_label(tmp_path):
    src = make_tracks(tmp_path / "src", 3)
    labels = pd.DataFrame({"track": ["song0", "song1", "song2"], "genre": ["rock", "jazz", "rock"]})
    c = xmtag.corpus.explain(src, tmp_path / "store", tagger=toy_tagger(), manifest=labels, progress=False)
    f = c.faithfulness(tags=["rock"], by="genre", n_boot=100)
    assert set(f["genre"]) == {"rock", "jazz"}
    assert [r["track"] for r in c.records()] == ["song0", "song1", "song2"]
