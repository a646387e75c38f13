"""Corpus summaries do not claim more than their tracks allow.

* a group with fewer than ``min_n`` tracks has no interval (NaN, ``interval="too few"``) and is
  never marked as excluding 0 — one track used to give ``[x, x]`` with ``zero_in_ci=False``;
* few tracks get a Student-t interval, whose coverage holds there (the percentile bootstrap's
  95 % interval covers far less than 95 % with five tracks);
* clips cut from one song are resampled as one song (``song`` label, ``<song>@<start>`` ids or
  ``cluster=``), so ``n`` counts songs and the interval is not spuriously tight;
* ``tags="own"`` matches labels to tags regardless of case and separators, and warns about a
  label that matches no tag;
* the heatmap cross-hatches cells without an interval.
"""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

import xmtag.corpus
from xmtag.errors import XmtagError

matplotlib.use("Agg")


def _table(values, tracks=None, tag="rock", stem="drums", **labels) -> pd.DataFrame:
    tracks = tracks or [f"t{i}" for i in range(len(values))]
    return pd.DataFrame({"track": tracks, "tag": tag, "stem": stem, "value": values, **labels})


def test_one_track_has_no_interval_and_does_not_exclude_zero():
    row = xmtag.corpus.summarize(_table([0.4]), by=None).iloc[0]
    assert row["mean"] == pytest.approx(0.4) and row["n"] == 1
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert row["interval"] == "too few" and bool(row["zero_in_ci"])


def test_two_tracks_are_too_few_by_default_and_min_n_is_stated():
    row = xmtag.corpus.summarize(_table([0.4, 0.5]), by=None).iloc[0]
    assert row["interval"] == "too few" and np.isnan(row["ci_low"]) and bool(row["zero_in_ci"])
    # asked for, two tracks get the t-interval: 12.7 standard errors wide each side at 95 %
    row = xmtag.corpus.summarize(_table([0.4, 0.5]), by=None, min_n=2).iloc[0]
    half = student_t.ppf(0.975, 1) * np.std([0.4, 0.5], ddof=1) / np.sqrt(2)
    assert row["interval"] == "t"
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.45 - half, 0.45 + half))
    assert bool(row["zero_in_ci"])  # [-0.19, 1.09]: the bootstrap said [0.4, 0.5]
    with pytest.raises(XmtagError, match="at least 2"):
        xmtag.corpus.summarize(_table([0.4, 0.5]), by=None, min_n=1)


def test_small_groups_get_an_interval_that_keeps_its_coverage():
    """400 independent five-track groups (one tag each) from N(0.3, 1): the 95 % interval must
    cover 0.3 about 95 % of the time. The percentile bootstrap covers about 80 % here."""
    rng = np.random.default_rng(7)
    k, n = 400, 5
    vals = 0.3 + rng.standard_normal((n, k))
    table = pd.DataFrame(
        {
            "track": np.repeat([f"t{i}" for i in range(n)], k),
            "tag": np.tile([f"tag{j}" for j in range(k)], n),
            "stem": "drums",
            "value": vals.ravel(),
        }
    )
    s = xmtag.corpus.summarize(table, by=None, n_boot=400)
    assert set(s["interval"]) == {"t"} and set(s["n"]) == {n}
    covered = ((s["ci_low"] <= 0.3) & (s["ci_high"] >= 0.3)).mean()
    assert 0.92 <= covered <= 0.98
    boot = xmtag.corpus.summarize(table, by=None, n_boot=400, interval="bootstrap")
    assert ((boot["ci_low"] <= 0.3) & (boot["ci_high"] >= 0.3)).mean() < 0.9  # why t is the default


def test_many_tracks_keep_the_bootstrap():
    rng = np.random.default_rng(1)
    row = xmtag.corpus.summarize(_table(rng.standard_normal(40)), by=None, n_boot=200).iloc[0]
    assert row["interval"] == "bootstrap" and row["n"] == 40


def _clips(ids=True):
    """Three songs, ten near-identical clips each: the songs differ, the clips of one song barely."""
    rng = np.random.default_rng(3)
    song_means = [0.05, 0.6, 0.9]
    rows = []
    for s, mu in enumerate(song_means):
        for c in range(10):
            rows.append(
                {
                    "track": f"song{s}@{10 * c}" if ids else f"clip{s}-{c}",
                    "song": f"song{s}",
                    "value": mu + 0.01 * rng.standard_normal(),
                }
            )
    t = pd.DataFrame(rows).assign(tag="rock", stem="drums")
    return t, t.groupby("song")["value"].mean().to_numpy()


@pytest.mark.parametrize("declared", ["ids", "song column", "cluster="])
def test_clips_of_one_song_are_resampled_as_one_song(declared):
    table, song_means = _clips(ids=declared == "ids")
    kwargs = {}
    if declared != "song column":
        table = table.drop(columns="song") if declared == "ids" else table.rename(columns={"song": "piece"})
        kwargs = {} if declared == "ids" else {"cluster": "piece"}
    row = xmtag.corpus.summarize(table, by=None, **kwargs).iloc[0]
    assert row["n"] == 3 and row["n_tracks"] == 30 and row["interval"] == "t"
    half = student_t.ppf(0.975, 2) * np.std(song_means, ddof=1) / np.sqrt(3)
    m = song_means.mean()
    assert (row["mean"], row["ci_low"], row["ci_high"]) == pytest.approx((m, m - half, m + half))
    assert bool(row["zero_in_ci"])
    # as 30 independent clips the interval would be spuriously tight and exclude 0
    flat = xmtag.corpus.summarize(table, by=None, cluster=None).iloc[0]
    assert flat["n"] == 30 and not flat["zero_in_ci"]
    assert flat["ci_high"] - flat["ci_low"] < (row["ci_high"] - row["ci_low"]) / 3


def test_one_clip_per_song_is_not_clustered_and_an_unknown_cluster_column_is_refused():
    t = _table([0.1, 0.2, 0.3], tracks=["a@0", "b@0", "c@0"])
    row = xmtag.corpus.summarize(t, by=None).iloc[0]
    assert row["n"] == 3 and row["n_tracks"] == 3
    with pytest.raises(XmtagError, match="no such column"):
        xmtag.corpus.summarize(t, by=None, cluster="song")


def test_own_tags_ignore_case_and_separators_and_warn_about_a_label_without_tag():
    rows = []
    for genre, tag in [("Rock", "rock"), ("hip hop", "hip-hop"), ("polka", "jazz")]:
        for i in range(3):
            rows.append(
                {"track": f"{genre}{i}", "genre": genre, "tag": tag, "stem": "drums", "value": 0.1 * i}
            )
            rows.append({"track": f"{genre}{i}", "genre": genre, "tag": "pop", "stem": "drums", "value": 0.0})
    table = pd.DataFrame(rows)
    with pytest.warns(UserWarning, match=r"\['polka'\]"):
        s = xmtag.corpus.summarize(table, by="genre", tags="own")
    assert sorted(zip(s["genre"], s["tag"])) == [("Rock", "rock"), ("hip hop", "hip-hop")]
    # a label equal to a tag: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xmtag.corpus.summarize(table[table.genre != "polka"], by="genre", tags="own")


def test_own_tags_prefer_the_exact_name():
    from xmtag.corpus.stats import own_tags

    assert own_tags(["hip-hop", "Hip Hop"], ["hiphop", "hip-hop"]) == {
        "hip-hop": ["hip-hop"],
        "Hip Hop": ["hiphop", "hip-hop"],
    }


def test_heatmap_crosshatches_cells_without_an_interval():
    from xmtag import plots

    class Stub:  # corpus_heatmap needs only .summarize
        def summarize(self, **kw):
            t = pd.concat(
                [
                    _table([0.5], tracks=["x"], genre="rock"),
                    _table([0.2, 0.3, 0.4, 0.35], genre="jazz", tag="jazz"),
                ]
            )
            return xmtag.corpus.summarize(t, **kw)

    fig = plots.corpus_heatmap(Stub(), by="genre", tag="own", n_boot=50)
    ax = fig.axes[0]
    hatches = [p.get_hatch() for p in ax.patches]
    assert hatches == ["xx"]  # the one-track rock cell; jazz (n=4, clear of 0) is not hatched
    assert any(t.get_text() == "+0.50\nn=1" for t in ax.texts)
    assert "too few" in ax.get_title()


def test_cli_summarize_resamples_songs_named_by_cluster(tmp_path, capsys):
    """``xmtag corpus summarize --cluster LABEL``: n counts songs; ``--cluster none``: tracks."""
    from xmtag.cli import main
    from xmtag.taggers import FunctionTagger

    sr = 8000
    t = np.arange(sr) / sr
    for i in range(4):
        d = tmp_path / "src" / f"song{i}"
        d.mkdir(parents=True)
        for k, stem in enumerate(("drums", "bass")):
            y = (0.1 + 0.05 * i + 0.1 * k) * np.sin(2 * np.pi * (150 + 40 * i + 300 * k) * t)
            xmtag.save_audio(d / f"{stem}.wav", y.astype(np.float32)[np.newaxis], sr)

    def toy_tagger():
        def fn(batch):
            return np.sqrt((batch.astype(np.float64) ** 2).mean(1, keepdims=True))

        return FunctionTagger(fn, ["rock"], sample_rate=sr, name="stats-toy")

    src = tmp_path / "src"
    labels = pd.DataFrame(
        {"track": [f"song{i}" for i in range(4)], "genre": "rock", "piece": ["a", "a", "b", "c"]}
    )
    xmtag.corpus.explain(
        src, tmp_path / "store", tagger=toy_tagger(), manifest=labels, workers=0, progress=False
    )
    rows = {}
    for cluster in ("piece", "none"):
        out = tmp_path / f"{cluster}.csv"
        args = ["corpus", "summarize", str(tmp_path / "store"), "--by", "genre", "--tags", "rock"]
        assert main([*args, "--cluster", cluster, "--csv", str(out)]) == 0
        rows[cluster] = pd.read_csv(out).iloc[0]
    assert rows["piece"]["n"] == 3 and rows["piece"]["n_tracks"] == 4
    assert rows["none"]["n"] == 4 and rows["none"]["n_tracks"] == 4
