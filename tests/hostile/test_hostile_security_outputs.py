"""Hostile corpus, issue #24 part 1: nothing of the user's is deleted or overwritten by the
output-folder policy. Real folders and symbolic links; the surrounding tree is hashed before and
after each case."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from hostile_support import tree_hash

import xmtag
from xmtag._files import OUTPUT_MARKER, prepare_output_dir, record_outputs
from xmtag.cli import main
from xmtag.errors import OutputError, XmtagError


def _expl():
    return xmtag.Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])


def _stems_folder(p):
    (p / "audio").mkdir(parents=True)
    for name in ("drums", "bass"):
        xmtag.audio.save_audio(p / "audio" / f"{name}.wav", np.zeros((1, 800), np.float32), 8000)
    return p / "audio"


def test_cli_out_containing_the_input_stems_is_refused(tmp_path, capsys):
    project = tmp_path / "P"
    stems = _stems_folder(project)
    before = tree_hash(tmp_path)
    assert main(["explain", str(stems), "--out", str(project)]) == 1
    err = capsys.readouterr().err
    assert "contains the input" in err and str(stems) in err and "--out" in err
    assert tree_hash(tmp_path) == before


def test_export_into_a_folder_holding_the_input_is_refused(tmp_path):
    project = tmp_path / "P"
    stems = _stems_folder(project)
    before = tree_hash(tmp_path)
    with pytest.raises(OutputError, match=r"contains the input .*audio.*Choose an output folder"):
        xmtag.export(_expl(), project, inputs=[stems], plots=False, report=False, audio=False)
    with pytest.raises(OutputError, match=r"is inside the input"):
        xmtag.export(_expl(), stems / "out", inputs=[stems], plots=False, report=False, audio=False)
    assert tree_hash(tmp_path) == before


def test_a_folder_of_user_audio_without_marker_is_never_cleaned(tmp_path):
    project = tmp_path / "P"
    _stems_folder(project)
    before = tree_hash(tmp_path)
    with pytest.raises(OutputError, match=r"not empty .*audio/bass\.wav.*--force"):
        xmtag.export(_expl(), project, plots=False, report=False, audio=False)
    assert tree_hash(tmp_path) == before


def test_rerun_keeps_files_changed_since_they_were_written(tmp_path):
    out = prepare_output_dir(tmp_path / "out")
    (out / "report.html").write_text("ours")
    (out / "attributions.csv").write_text("ours")
    record_outputs(out, [out / "report.html", out / "attributions.csv"])
    (out / "attributions.csv").write_text("edited by the user afterwards")
    before = tree_hash(tmp_path)
    with pytest.raises(OutputError, match=r"changed or replaced since \(attributions\.csv\).*--force"):
        prepare_output_dir(out)
    assert tree_hash(tmp_path) == before  # nothing deleted, not even the unchanged report
    prepare_output_dir(out, force=True)  # --force: the proven file goes, the edited one stays
    assert not (out / "report.html").exists()
    assert (out / "attributions.csv").read_text() == "edited by the user afterwards"


def test_export_never_writes_through_a_symlinked_subfolder(tmp_path):
    mine = tmp_path / "my-pictures"
    mine.mkdir()
    (mine / "heatmap.png").write_bytes(b"my holiday photo")
    out = tmp_path / "run"
    out.mkdir()
    os.symlink(mine, out / "plots")
    before = tree_hash(mine)
    with pytest.raises(OutputError, match=r"plots' is a symbolic link.*Remove the link"):
        xmtag.export(_expl(), out, force=True, report=False, audio=False)
    assert tree_hash(mine) == before


def test_export_never_writes_through_a_symlinked_file(tmp_path):
    thesis = tmp_path / "thesis.tex"
    thesis.write_text("years of work")
    out = tmp_path / "run"
    out.mkdir()
    os.symlink(thesis, out / "attributions.csv")
    with pytest.raises(OutputError, match=r"attributions\.csv' is a symbolic link"):
        xmtag.export(_expl(), out, force=True, plots=False, report=False, audio=False)
    assert thesis.read_text() == "years of work"


def test_marker_through_a_symlinked_folder_does_not_delete_the_target(tmp_path):
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "notes" / "thesis.tex").write_text("years of work")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(home / "notes", out / "notes")
    # a marker that lists notes/thesis.tex with its true size and hash: still not ours
    data = b"years of work"
    check = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (out / OUTPUT_MARKER).write_text(
        json.dumps({"files": ["notes/thesis.tex"], "checks": {"notes/thesis.tex": check}})
    )
    before = tree_hash(home)
    prepare_output_dir(out)
    assert tree_hash(home) == before
    assert (out / "notes").is_symlink()


def test_marker_listing_a_symlink_to_a_user_file_removes_neither(tmp_path):
    secret = tmp_path / "mine.txt"
    secret.write_text("mine")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(secret, out / "report.html")
    check = {"size": 4, "sha256": hashlib.sha256(b"mine").hexdigest()}
    (out / OUTPUT_MARKER).write_text(json.dumps({"files": ["report.html"], "checks": {"report.html": check}}))
    with pytest.raises(OutputError, match=r"changed or replaced since \(report\.html\)"):
        prepare_output_dir(out)
    prepare_output_dir(out, force=True)  # even forced: the link is not ours, it stays
    assert (out / "report.html").is_symlink() and secret.read_text() == "mine"


@pytest.mark.parametrize("name", ["../x.txt", "/etc/passwd", "./a", "a//b", "a/../b", "a\\..\\b", ""])
def test_marker_names_must_be_plain_relative_names(tmp_path, name):
    victim = tmp_path / "x.txt"
    victim.write_text("safe")
    out = tmp_path / "out"
    out.mkdir()
    check = {"size": 4, "sha256": hashlib.sha256(b"safe").hexdigest()}
    (out / OUTPUT_MARKER).write_text(json.dumps({"files": [name], "checks": {name: check}}))
    before = tree_hash(tmp_path)
    prepare_output_dir(out)
    after = tree_hash(tmp_path)
    before.pop("out/" + OUTPUT_MARKER)
    assert after == before


def test_export_rerun_round_trip_still_cleans_its_own_files(tmp_path):
    out = tmp_path / "run"
    first = xmtag.export(_expl(), out, plots=False, report=False, audio=False)
    assert json.loads((out / OUTPUT_MARKER).read_text())["checks"].keys() == {
        p.relative_to(out).as_posix() for p in first.values()
    }
    xmtag.export(_expl(), out, plots=False, report=False, audio=False)
    assert issubclass(OutputError, XmtagError)
