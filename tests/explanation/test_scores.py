"""Coalition export and explanations from score tables (issue 14: external taggers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import xmtag
from xmtag.attribution import estimators, shapley
from xmtag.coalitions import export
from xmtag.errors import AudioFileNotFoundError, XmtagError
from xmtag.explanation import ScoreTableError, from_scores, needed_masks
from xmtag.taggers import FunctionTagger

NAMES = ["drums", "bass", "other", "vocals"]


def game_table(names=NAMES, seed=0, tags=("rock", "jazz")) -> pd.DataFrame:
    """A random game in [0, 1] as a score table with a stems column (mask order)."""
    rng = np.random.default_rng(seed)
    n = len(names)
    rows = []
    for m in range(2**n):
        row = {"stems": "+".join(nm for i, nm in enumerate(names) if (m >> i) & 1)}
        row.update({t: float(v) for t, v in zip(tags, rng.random(len(tags)))})
        rows.append(row)
    return pd.DataFrame(rows)


def values_of(table: pd.DataFrame, tags=("rock", "jazz")) -> np.ndarray:
    return table[list(tags)].to_numpy()


# ---------------------------------------------------------------------------------------------
# export


def toy_stems(sr=8000, seconds=1.0, n=3):
    t = np.arange(int(sr * seconds)) / sr
    return xmtag.Stems(
        {nm: (0.1 + 0.05 * i) * np.sin(2 * np.pi * (110 * (i + 1)) * t) for i, nm in enumerate(NAMES[:n])},
        sr=sr,
    )


def test_export_writes_every_mix_with_manifest(tmp_path):
    stems = toy_stems()
    m = export(stems, tmp_path / "mixes", progress=False)
    assert list(m.columns) == ["mask", "stems", "path", "duration"]
    assert m["mask"].tolist() == list(range(8))
    assert m["stems"].tolist() == [
        "",
        "drums",
        "bass",
        "drums+bass",
        "other",
        "drums+other",
        "bass+other",
        "drums+bass+other",
    ]
    assert m["path"].iloc[0] == "0_silence.wav" and m["path"].iloc[7] == "7_drums+bass+other.wav"
    saved = pd.read_csv(tmp_path / "mixes" / "manifest.csv", keep_default_na=False)
    assert saved["path"].tolist() == m["path"].tolist()
    y, sr = xmtag.load_audio(tmp_path / "mixes" / m["path"].iloc[5])
    assert sr == 8000 and y.shape == (1, 8000)
    np.testing.assert_array_equal(y, stems["drums"] + stems["other"])  # float32 wav: bit exact
    assert m["duration"].tolist() == [1.0] * 8


def test_export_segments_sr_and_masks(tmp_path):
    m = export(toy_stems(), tmp_path, sr=4000, segments=3, masks=[7, 0], format="flac", progress=False)
    assert m["mask"].tolist() == [0, 0, 0, 7, 7, 7]
    assert m["segment"].tolist() == [0, 1, 2] * 2
    assert m["path"].iloc[4] == "7_drums+bass+other_seg1.flac"
    assert m["start"].iloc[1] == pytest.approx(1334 / 4000) and m["end"].iloc[2] == 1.0
    y, sr = xmtag.load_audio(tmp_path / m["path"].iloc[3])
    assert sr == 4000 and y.shape == (1, 1334)


def test_export_bad_arguments(tmp_path):
    m = export(toy_stems(), tmp_path / "mp3", format="mp3", masks=[5], progress=False)
    y, sr = xmtag.load_audio(tmp_path / "mp3" / m["path"].iloc[0])
    assert m["path"].iloc[0] == "5_drums+other.mp3" and sr == 8000 and abs(y.shape[1] - 8000) < 2000
    with pytest.raises(XmtagError, match="format must be one of 'wav', 'flac', 'ogg', 'mp3'"):
        export(toy_stems(), tmp_path, format="mp4")
    with pytest.raises(XmtagError, match=r"masks must be ints in \[0, 7\]"):
        export(toy_stems(), tmp_path, masks=[8])
    with pytest.raises(XmtagError, match="wrap arrays with xmtag.Stems"):
        export({"a": np.zeros(10)}, tmp_path)
    with pytest.raises(XmtagError, match="segments must be a positive integer"):
        export(toy_stems(), tmp_path, segments=0)


def test_export_cli(tmp_path, capsys):
    from xmtag.cli import main

    toy_stems().save(tmp_path / "song")
    assert main(["-q", "coalitions", "export", str(tmp_path / "song"), "--out", str(tmp_path / "mixes")]) == 0
    assert "wrote 8 files" in capsys.readouterr().out
    assert len(list((tmp_path / "mixes").glob("*.wav"))) == 8
    args = ["-q", "coalitions", "export", str(tmp_path / "song"), "--out", str(tmp_path / "m"), "--mono"]
    assert main([*args, "--sr", "4000", "--format", "flac"]) == 0
    y, sr = xmtag.load_audio(tmp_path / "m" / "7_drums+bass+other.flac")
    assert y.shape == (1, 4000) and sr == 4000


# ---------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["drums", "bass", "piano"], id="3-stems"),
        pytest.param(None, id="all-5-stems", marks=pytest.mark.slow),
    ],
)
def test_round_trip_equals_explain_on_the_demo_song(tmp_path, names):
    """export -> score every file with the tagger ourselves -> from_scores == explain(), to 1e-6."""
    stems = xmtag.load_demo()
    stems = stems if names is None else stems.subset(names)
    tagger = xmtag.load_tagger("musicnn-msd")
    manifest = export(stems, tmp_path, sr=tagger.sample_rate, mono=True, progress=False)
    clips = np.concatenate(
        [xmtag.load_audio(tmp_path / p, sr=tagger.sample_rate, mono=True)[0] for p in manifest["path"]]
    )
    scores = pd.concat([manifest, pd.DataFrame(tagger.predict(clips), columns=tagger.labels)], axis=1)
    scores.to_csv(tmp_path / "scores.csv", index=False)
    got = xmtag.Explanation.from_scores(tmp_path / "scores.csv")
    want = xmtag.explain(stems, tagger, cache=False, progress=False)
    assert got.stems == want.stems and got.labels == want.labels
    np.testing.assert_allclose(got.coalition_values, want.coalition_values, atol=1e-6)
    np.testing.assert_allclose(got.values, want.values, atol=1e-6)
    np.testing.assert_allclose(got.interactions, want.interactions, atol=1e-6)


def test_segment_round_trip_matches_time_resolved_explain(tmp_path):
    """Segments aligned to the tagger's patches: exported segment clips give explain(segments=)."""
    rms = lambda b: np.sqrt((b.astype(np.float64) ** 2).mean(1, keepdims=True))  # noqa: E731
    tagger = FunctionTagger(rms, ["loud"], sample_rate=8000, patch_length=2000, name="rms")
    stems = toy_stems()  # 8000 samples = 4 patches = 2 segments of 2 patches
    manifest = export(stems, tmp_path, segments=2, progress=False)
    clips = np.concatenate([xmtag.load_audio(tmp_path / p, mono=True)[0] for p in manifest["path"]])
    manifest["loud"] = tagger.predict(clips)[:, 0]
    got = from_scores(manifest, units="score")
    want = xmtag.explain(stems, tagger, segments=2, cache=False, progress=False)
    np.testing.assert_allclose(got.segment_values, want.segment_values, atol=1e-7)
    np.testing.assert_allclose(got.values, want.values, atol=1e-7)
    np.testing.assert_allclose(got.segment_bounds, want.segment_bounds)


def test_table_orders_mask_column_and_parquet_free_csv(tmp_path):
    table = game_table()
    want = shapley.exact(values_of(table))
    shuffled = table.sample(frac=1.0, random_state=1)
    np.testing.assert_allclose(from_scores(shuffled, stems=NAMES).values, want, atol=1e-12)
    masked = table.drop(columns="stems").assign(mask=range(16))
    np.testing.assert_allclose(from_scores(masked, stems=NAMES, coalition="mask").values, want, atol=1e-12)
    np.testing.assert_allclose(from_scores(table, stems="drums,bass,other,vocals").values, want, atol=1e-12)
    resorted = table.assign(mask=range(16)).sort_values("stems")  # names no longer in bit order
    e = from_scores(resorted)
    assert e.stems == NAMES
    np.testing.assert_allclose(e.values, want, atol=1e-12)
    e = from_scores(table, tags=["jazz"])
    assert e.labels == ["jazz"] and e.units == "probability" and e.method == "exact" and e.budget == 16
    assert e.provenance.source == {"kind": "scores", "path": None}
    assert e.provenance.tagger["name"] == "external scores"
    table.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    np.testing.assert_allclose(from_scores(tmp_path / "t.tsv").values, want, atol=1e-12)
    e.save(tmp_path / "e.xmtag")
    assert xmtag.Explanation.load(tmp_path / "e.xmtag") == e


def test_base_fills_a_missing_silence_row():
    table = game_table()
    table.loc[0, ["rock", "jazz"]] = 0.0
    want = from_scores(table).values
    np.testing.assert_allclose(from_scores(table.iloc[1:], base=0.0).values, want, atol=1e-12)
    np.testing.assert_allclose(from_scores(table.iloc[1:], base={"rock": 0, "jazz": 0}).values, want)


# ---------------------------------------------------------------------------------------------
# every bad table


def test_missing_coalitions_are_named():
    table = game_table()
    with pytest.raises(ScoreTableError, match=r"lacks 1 of .*drums\+bass\+other\+vocals \(the full mix\)"):
        from_scores(table.iloc[:-1])
    with pytest.raises(
        ScoreTableError,
        match=r"lacks 2 of the 16 .*: drums\+bass, bass\+other\+vocals\. .*"
        r"method='kernel'",
    ):
        from_scores(table.drop(index=[3, 14]))
    with pytest.raises(ScoreTableError, match=r"lacks 1 of .*the full mix.*score it"):
        from_scores(table.iloc[:-1], method="kernel")


def test_no_silence_row():
    table = game_table()
    with pytest.raises(ScoreTableError, match=r"no silence row .*pass base=0\.0"):
        from_scores(table.iloc[1:])
    with pytest.raises(ScoreTableError, match="base= was given but the table has a silence row"):
        from_scores(table, base=0.0)


def test_duplicate_and_unknown_stem_names():
    table = game_table()
    with pytest.raises(ScoreTableError, match=r"repeated labels \['bass'\]"):
        from_scores(table, stems=["drums", "bass", "bass", "vocals"])
    bad = table.copy()
    bad.loc[3, "stems"] = "drums+drums"
    with pytest.raises(ScoreTableError, match=r"row 5: stems 'drums\+drums' names \['drums'\] more than"):
        from_scores(bad)
    bad = table.copy()
    bad.loc[5, "stems"] = "drum+other"
    with pytest.raises(ScoreTableError, match=r"row 7: unknown stem 'drum' .*Did you mean 'drums'"):
        from_scores(bad, stems=NAMES)
    bad = table.copy()
    bad.loc[5, "stems"] = "drums++other"
    with pytest.raises(ScoreTableError, match="has an empty name"):
        from_scores(bad)
    with pytest.raises(ScoreTableError, match="may not contain '\\+'"):
        from_scores(table, stems=["a+b", "c"])


def test_duplicate_coalition_rows():
    table = game_table()
    twice = pd.concat([table, table.iloc[[6]]], ignore_index=True)
    with pytest.raises(ScoreTableError, match=r"Coalition bass\+other appears 2 times \(row 8, row 18\)"):
        from_scores(twice)


def test_non_numeric_nan_and_out_of_range_scores(tmp_path):
    table = game_table().astype({"rock": object})
    table.loc[4, "rock"] = "high"
    with pytest.raises(ScoreTableError, match=r"Column 'rock', row 6: 'high' is not a number"):
        from_scores(table)
    table = game_table()
    table.loc[2, "jazz"] = np.nan
    with pytest.raises(ScoreTableError, match=r"Column 'jazz', row 4: .*NaN, empty or infinite"):
        from_scores(table)
    table.to_csv(tmp_path / "nan.csv", index=False)  # an empty CSV cell is NaN too
    with pytest.raises(ScoreTableError, match=r"Column 'jazz', row 4"):
        from_scores(tmp_path / "nan.csv")
    table = game_table()
    table.loc[9, "rock"] = 3.5
    with pytest.raises(ScoreTableError, match=r"score 3.5 is outside \[0, 1\] but units='probability'"):
        from_scores(table)
    assert from_scores(table, units="logit").units == "logit"


def test_bad_columns_and_files(tmp_path):
    table = game_table()
    with pytest.raises(ScoreTableError, match="no 'stems' column"):
        from_scores(table.rename(columns={"stems": "who"}), tags=["rock"])
    with pytest.raises(ScoreTableError, match=r"needs the stem names in bit order: pass stems="):
        from_scores(table.drop(columns="stems").assign(mask=range(16)))
    with pytest.raises(ScoreTableError, match=r"row 4: mask 3 and stems 'bass' disagree"):
        from_scores(table.assign(mask=[0, 1, 3, 2, *list(range(4, 16))]))
    with pytest.raises(ScoreTableError, match=r"no column 'rok'\. Did you mean 'rock'"):
        from_scores(table, tags=["rok"])
    with pytest.raises(ScoreTableError, match="no tag columns"):
        from_scores(table[["stems"]])
    with pytest.raises(ScoreTableError, match="has no rows"):
        from_scores(table.iloc[:0])
    with pytest.raises(AudioFileNotFoundError, match="Score table .* does not exist"):
        from_scores(tmp_path / "missing.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(ScoreTableError, match="unknown suffix '.xlsx'"):
        from_scores(tmp_path / "t.xlsx")
    with pytest.raises(ScoreTableError, match="must be a pandas.DataFrame or the path"):
        from_scores([1, 2, 3])
    with pytest.raises(XmtagError, match="method must be one of 'exact', 'kernel', 'permutation'"):
        from_scores(table, method="lime")


def test_bad_segment_tables():
    table = pd.concat([game_table(NAMES[:2]).assign(segment=k, start=k * 1.0, end=k + 1.0) for k in (0, 1)])
    e = from_scores(table)
    assert e.n_segments == 2
    with pytest.raises(ScoreTableError, match=r"lacks 1 of the 4 coalitions in segment 1: drums\+bass"):
        from_scores(table.iloc[:-1])
    with pytest.raises(ScoreTableError, match="skips segment"):
        from_scores(table.assign(segment=[0] * 4 + [2] * 4))
    with pytest.raises(ScoreTableError, match="needs 'start'"):
        from_scores(table.drop(columns="start"))
    with pytest.raises(ScoreTableError, match=r"method='kernel' with a segment column is not supported"):
        from_scores(table, method="kernel")


# ---------------------------------------------------------------------------------------------
# sampled methods on what is there


def test_kernel_from_values_is_exact_on_a_complete_game_and_fits_a_partial_one():
    v = values_of(game_table())
    est = estimators.kernel_from_values(np.arange(16), v, 4)
    np.testing.assert_allclose(est.values, shapley.exact(v), atol=1e-12)
    additive = ((np.arange(16)[:, None] >> np.arange(4)) & 1) @ np.array([0.1, 0.2, 0.3, 0.05])
    keep = np.array([0, 1, 2, 4, 8, 15])  # silence, the four solos, the full mix
    est = estimators.kernel_from_values(keep, additive[keep], 4)
    np.testing.assert_allclose(est.values, [0.1, 0.2, 0.3, 0.05], atol=1e-12)  # additive: recovered
    with pytest.raises(xmtag.errors.InvalidGameError, match=r"rank 1 < 3"):
        estimators.kernel_from_values(np.array([0, 1, 15]), additive[[0, 1, 15]], 4)


def test_kernel_on_an_incomplete_table_is_labelled():
    table = game_table()
    e = from_scores(table.drop(index=[3, 14]), method="kernel")
    assert e.method == "kernel" and e.budget == 14 and e.provenance.method == "kernel"
    assert e.coalition_values is None and e.stderr is None
    np.testing.assert_allclose(e.base_values + e.values.sum(0), e.prediction, atol=1e-12)
    full = from_scores(table, method="kernel")
    np.testing.assert_allclose(full.values, shapley.exact(values_of(table)), atol=1e-12)
    with pytest.raises(ScoreTableError, match=r"method='kernel' on the 3 coalitions present: .*rank"):
        from_scores(table.iloc[[0, 1, 15]], method="kernel")


def test_permutation_reads_only_the_coalitions_its_orders_visit():
    table = game_table()
    need = needed_masks(4, n_permutations=6, seed=3)
    assert need.size < 16
    e = from_scores(table.iloc[need], method="permutation", n_permutations=6, seed=3)
    want = estimators.permutation(lambda m: values_of(table)[m], 4, n_permutations=6, seed=3)
    np.testing.assert_allclose(e.values, want.values, atol=1e-12)
    np.testing.assert_allclose(e.stderr, want.std_errors, atol=1e-12)
    assert e.method == "permutation"
    with pytest.raises(ScoreTableError, match=r"lacks 1 of the .* coalitions that 6 permutations \(seed 3\)"):
        from_scores(table.iloc[[*need[:-2].tolist(), 15]], method="permutation", n_permutations=6, seed=3)


def test_explain_cli_reads_a_score_table(tmp_path, capsys):
    from xmtag.cli import main

    table = game_table(["drums", "bass", "vocals"])
    table.to_csv(tmp_path / "scores.csv", index=False)
    out = tmp_path / "out"
    rc = main(
        [
            "explain",
            "--scores",
            str(tmp_path / "scores.csv"),
            "--stems",
            "drums,bass,vocals",
            "--out",
            str(out),
            "--top",
            "2",
        ]
    )
    assert rc == 0
    loaded = xmtag.Explanation.load(out / "explanation.xmtag")
    np.testing.assert_allclose(loaded.values, shapley.exact(values_of(table)), atol=1e-12)
    assert (out / "report.html").is_file() and list((out / "plots").glob("*.png"))
    assert "drums" in capsys.readouterr().out
    assert main(["explain"]) == 1
    assert "Give a SOURCE" in capsys.readouterr().err
    table.drop(index=[3]).to_csv(tmp_path / "partial.csv", index=False)
    args = ["-q", "explain", "--scores", str(tmp_path / "partial.csv"), "--out", str(tmp_path / "p")]
    assert main(args) == 1
    assert "drums+bass" in capsys.readouterr().err
    assert main([*args, "--method", "kernel"]) == 0
    assert xmtag.Explanation.load(tmp_path / "p" / "explanation.xmtag").method == "kernel"


@pytest.mark.parametrize("method", ["exact", "kernel"])
def test_score_explanations_work_with_plots_save_export_and_report(tmp_path, method):
    from xmtag import plots

    table = game_table(["drums", "bass", "vocals"])
    if method == "kernel":
        table = table.drop(index=[3])  # drums+bass never scored
    e = from_scores(table, method=method, tagger="a web service")
    written = xmtag.export(e, tmp_path / "out", top=2)
    assert written["report"].is_file() and any(k.startswith("plot:") for k in written)
    assert "a web service" in written["report"].read_text()
    plots.bar(e, tag="rock")
    plots.waterfall(e, tag="jazz")
    loaded = xmtag.Explanation.load(written["explanation"])
    assert loaded.method == method and loaded.units == "probability"
    np.testing.assert_allclose(loaded.values, e.values)


def test_permutation_workflow_exports_only_the_coalitions_it_needs(tmp_path):
    """needed_masks -> export(masks=) -> score the files -> from_scores(method='permutation')."""
    from xmtag.coalitions import value_function

    rms = lambda b: np.sqrt((b.astype(np.float64) ** 2).mean(1, keepdims=True))  # noqa: E731
    tagger = FunctionTagger(rms, ["loud"], sample_rate=8000, name="rms")
    stems = toy_stems(n=4)  # 3 stems: two distinct antithetic pairs visit all 8 coalitions
    need = needed_masks(4, n_permutations=4, seed=0)
    manifest = export(stems, tmp_path, masks=need, progress=False)
    assert manifest["mask"].tolist() == need.tolist() and len(need) < 16
    clips = np.concatenate([xmtag.load_audio(tmp_path / p, mono=True)[0] for p in manifest["path"]])
    manifest["loud"] = tagger.predict(clips)[:, 0]
    got = from_scores(manifest, units="score", method="permutation", n_permutations=4, seed=0)
    fn, _, _ = value_function(stems, tagger)
    want = estimators.permutation(fn, 4, n_permutations=4, seed=0)
    np.testing.assert_allclose(got.values, want.values, atol=1e-6)
    assert got.method == "permutation" and got.budget == len(need) and got.stderr is not None
