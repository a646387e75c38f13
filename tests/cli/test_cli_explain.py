"""`xmtag explain` and `xmtag demo` end to end, in a subprocess."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import xmtag
from xmtag import Explanation
from xmtag.datasets import load_demo


def _xmtag(*args: str, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "xmtag", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


needs_musicnn = pytest.mark.skipif(
    importlib.util.find_spec("musicnn") is None,
    reason="the musicnn-msd weights are not installed (pip install --no-deps musicnn==0.1.0)",
)


@pytest.fixture(scope="module")
def short_song(tmp_path_factory):
    """Three stems of the demo song, 6.1 s (two musicnn patches), as a folder of wav files."""
    demo = load_demo()
    n = int(6.1 * demo.sr)
    folder = tmp_path_factory.mktemp("song")
    xmtag.Stems({k: demo[k][:, :n] for k in ("drums", "guitar", "saxophone")}, sr=demo.sr).save(folder)
    return folder


@needs_musicnn
def test_explain_cli_end_to_end(short_song, tmp_path):
    out = tmp_path / "out"
    r = _xmtag("-q", "explain", short_song, "--segments", "2", "--top", "3", "--out", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # -q: nothing printed
    expl = Explanation.load(out / "explanation.xmtag")
    assert expl.stems == ["drums", "guitar", "saxophone"] and expl.n_tags == 50
    assert expl.n_segments == 2
    np.testing.assert_allclose(expl.base_values + expl.values.sum(0), expl.prediction, atol=1e-6)
    table = pd.read_csv(out / "attributions.csv")
    assert len(table) == 50 * 3 and {"tag", "stem", "value"} <= set(table.columns)
    np.testing.assert_allclose(
        table[table.tag == expl.labels[0]].value.to_numpy(), expl.values[:, 0], rtol=1e-12
    )
    assert len(pd.read_csv(out / "segments.csv")) == 50 * 3 * 2
    top = expl.top_tags(3)
    pngs = {p.name for p in (out / "plots").glob("*.png")}
    assert "heatmap.png" in pngs and len(pngs) == 1 + 4 * 3
    assert all(
        (out / "plots" / f"{kind}-{top[0].replace(' ', '_')}.png").exists() for kind in ("bar", "timeline")
    )
    assert list((out / "audio").glob("listen-*.mp3"))
    html = (out / "report.html").read_text()
    assert '"mime":"audio/mpeg"' in html and 'aria-label="Mute drums' in html  # the stems, on a desk
    # the listenable explanation reloads its audio from the stem folder
    pick = expl.listen(top[0], tmp_path / "top.wav")
    assert pick.path.exists()


@needs_musicnn
def test_explain_cli_prints_the_table(short_song, tmp_path):
    r = _xmtag("explain", short_song, "--tags", "rock,jazz", "--out", tmp_path / "o", "--no-audio")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = next(line for line in lines if line.startswith("tag"))
    for stem in ("drums", "guitar", "saxophone", "full", "silence"):
        assert stem in header
    rows = [line.split() for line in lines if line.startswith(("rock ", "jazz "))]
    assert [row[0] for row in rows] == ["rock", "jazz"]
    expl = Explanation.load(tmp_path / "o" / "explanation.xmtag")
    j = expl.tag_index("rock")
    assert float(rows[0][1]) == pytest.approx(expl.prediction[j], abs=1e-3)
    assert [float(x) for x in rows[0][3:]] == pytest.approx(expl.values[:, j].tolist(), abs=1e-3)
    assert not (tmp_path / "o" / "audio").exists()
    assert "report.html" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "{empty}"], "no stem files"),
        (["explain", "{missing}"], "does not exist"),
        (["explain", "{song}", "--tagger", "no-such-tagger"], "no-such-tagger"),
        (["explain", "{song}", "--segments", "0"], "--segments"),
    ],
)
def test_explain_cli_errors_are_one_line(tmp_path, short_song, args, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing")
    fill = {"empty": empty, "missing": tmp_path / "missing.wav", "song": short_song}
    r = _xmtag(*[a.format(**fill) for a in args], "--out", tmp_path / "o")
    assert r.returncode == 1
    assert r.stderr.startswith("xmtag: error:") and message in r.stderr
    assert "Traceback" not in r.stderr


@needs_musicnn
def test_explain_cli_segments_larger_than_patches(short_song, tmp_path):
    r = _xmtag("explain", short_song, "--segments", "5", "--out", tmp_path / "o")
    assert r.returncode == 1 and "segments" in r.stderr and "Traceback" not in r.stderr


def test_help():
    for cmd in ("explain", "demo"):
        r = _xmtag(cmd, "--help")
        assert r.returncode == 0 and "--out" in r.stdout and "--top" in r.stdout


@pytest.mark.slow
@needs_musicnn
def test_demo_runs_offline_from_a_cold_cache(tmp_path):
    # its speed (20-30 s here, target < 2 min) is measured by running `make demo`, not asserted
    env_cache = tmp_path / "cache"  # cold cache: every coalition is really scored
    r = subprocess.run(
        [sys.executable, "-m", "xmtag", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "XMTAG_CACHE": str(env_cache), "HF_HUB_OFFLINE": "1", "XMTAG_OFFLINE": "1"},
    )
    assert r.returncode == 0, r.stderr
    out = tmp_path / "xmtag-demo"
    assert str(out.name) in r.stdout and "report.html" in r.stdout
    expl = Explanation.load(out / "explanation.xmtag")
    assert expl.stems == ["drums", "bass", "guitar", "piano", "saxophone"]
    assert expl.n_segments == 8 and expl.metadata["tagger"]["name"] == "musicnn-msd"
    assert not expl.metadata["from_cache"]
    for name in ("attributions.csv", "segments.csv", "report.html", "plots/heatmap.png"):
        assert (out / name).is_file()


@pytest.mark.parametrize("command", [["explain", "song/"], ["demo"]])
def test_segment_players_flag_reaches_explain(command, monkeypatch):
    """``--segment-players`` (default receptive) is passed to ``xmtag.explain`` by explain and demo (#26)."""
    import xmtag.pipeline
    from xmtag.cli import build_parser

    seen = []

    class Stop(Exception):
        pass

    def fake_explain(*args, **kwargs):
        seen.append(kwargs.get("segment_players"))
        raise Stop

    monkeypatch.setattr(xmtag.pipeline, "explain", fake_explain)
    parser = build_parser()
    for extra, want in (([], "receptive"), (["--segment-players", "samples"], "samples")):
        args = parser.parse_args([*command, "--segments", "2", *extra])
        with pytest.raises(Stop):
            args.func(args)
        assert seen[-1] == want
    with pytest.raises(SystemExit):
        parser.parse_args([*command, "--segment-players", "sample"])


@needs_musicnn
def test_explain_streams_a_recording_block_by_block(tmp_path):
    """`--stream yes`: the stems go to a temporary folder, the values are those of `--stream no`,
    and the command says so before the work."""
    demo = load_demo()
    mix = tmp_path / "mix.wav"
    xmtag.save_audio(mix, demo.mixture[:, : 14 * demo.sr], demo.sr)
    tables = {}
    for mode in ("yes", "no"):
        out = tmp_path / mode
        r = _xmtag(
            "explain",
            mix,
            "--separator",
            "hpss",
            "--stream",
            mode,
            "--no-cache",
            "--out",
            out,
            "--no-plots",
            "--no-report",
        )
        assert r.returncode == 0, r.stderr
        assert ("block by block" in r.stderr) is (mode == "yes")
        tables[mode] = pd.read_csv(out / "attributions.csv")
        assert Explanation.load(out / "explanation.xmtag").provenance.extra["streamed"] is (mode == "yes")
    # hpss blocks are separated with margins, so the stems (and values) agree closely, not exactly
    np.testing.assert_allclose(tables["yes"]["value"], tables["no"]["value"], atol=2e-3)


@needs_musicnn
def test_a_killed_explain_leaves_no_temporary_stems(tmp_path):
    """SIGTERM (a scheduler's time limit, `kill`) mid-way through a block-by-block explanation:
    the command exits with 143 and its temporary stem folder is gone."""
    import signal
    import time

    rng = np.random.default_rng(0)
    mix = tmp_path / "long.wav"
    xmtag.save_audio(mix, (0.1 * rng.standard_normal((2, 300 * 22050))).astype(np.float32), 22050)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1"}
    args = ["explain", mix, "--separator", "hpss", "--stream", "yes", "--no-cache", "--out", tmp_path / "o"]
    proc = subprocess.Popen([sys.executable, "-m", "xmtag", *map(str, args)], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(tmp.glob("xmtag-stems-*/*.wav")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the command ended before its stems were written"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143
    assert list(tmp.glob("xmtag-stems-*")) == []
