"""Hostile corpus: output paths (pipes, devices, links, folders, permissions, read-only and full
disks) and the output-folder policy. Each case: a specific ``OutputError`` naming the path and
the fix, or the bytes arriving exactly where they should, with nothing half-written left."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading

import numpy as np
import pytest
from hostile_support import make_tone, run_python

import xmtag
from xmtag._files import (
    OUTPUT_MARKER,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    prepare_output_dir,
    record_outputs,
)
from xmtag.audio import encode_audio, save_audio
from xmtag.cache import Cache, make_key
from xmtag.errors import OutputError


def _no_temp_files(folder):
    return [p.name for p in folder.iterdir() if ".tmp" in p.name] == []


# ------------------------------------------------------------------------ pipes and devices
def test_fifo_is_written_directly_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "out.srt"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write_text(fifo, "1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    reader.join(10)
    assert got == [b"1\n00:00:00,000 --> 00:00:01,000\nhello\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # not replaced by a regular file
    assert _no_temp_files(tmp_path)


def test_dev_null_is_written_directly_and_stays_a_device():
    atomic_write_bytes("/dev/null", b"x" * 1000)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("stdout_kind", ["pipe", "file"])
def test_dev_stdout_reaches_stdout(tmp_path, stdout_kind):
    code = "from xmtag._files import atomic_write_text; atomic_write_text('/dev/stdout', 'to stdout\\n')"
    if stdout_kind == "pipe":
        done = run_python(code)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "to stdout\n"
    else:  # stdout redirected to a regular file: the file gets the text, the fd is not orphaned
        out = tmp_path / "captured.txt"
        done = run_python(
            f"import sys, os\nfd = os.open({str(out)!r}, os.O_WRONLY | os.O_CREAT)\nos.dup2(fd, 1)\n"
            f"print('printed first', flush=True)\n{code}"
        )
        assert done.returncode == 0, done.stderr
        assert out.read_text() == "printed first\nto stdout\n"  # nothing the program printed is lost


def test_audio_to_a_pipe_that_needs_seeking_is_a_clear_error(tmp_path):
    fifo = tmp_path / "live.wav"
    os.mkfifo(fifo)
    drained = threading.Thread(target=lambda: fifo.read_bytes())
    drained.start()
    with pytest.raises(OutputError, match=r"live\.wav.*does not support pipe write"):
        save_audio(fifo, make_tone(), 8000)
    drained.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_socket_is_refused(tmp_path):
    path = f"/tmp/xmtag-out-{os.getpid()}.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    try:
        with pytest.raises(OutputError, match=r"it is a socket\. Give the name of a regular file"):
            atomic_write_text(path, "x")
    finally:
        s.close()
        os.unlink(path)


# ------------------------------------------------------------------------ links
def test_symlink_keeps_the_link_and_replaces_the_target(tmp_path):
    target = tmp_path / "runs" / "run1.csv"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    assert _no_temp_files(tmp_path) and _no_temp_files(target.parent)


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "report.html"
    link.symlink_to(tmp_path / "real-report.html")
    atomic_write_text(link, "<html>")
    assert link.is_symlink() and (tmp_path / "real-report.html").read_text() == "<html>"


def test_symlink_loop_is_a_clear_error(tmp_path):
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    with pytest.raises(OutputError, match=r"a\.csv.*symbolic link loop\. Remove the link"):
        atomic_write_text(tmp_path / "a.csv", "x")


# ------------------------------------------------------------------------ folders and permissions
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: (d / "plots").mkdir() or d / "plots", r"it is a directory\. Give a file name"),
        (lambda d: d / "missing" / "x.csv", r"folder .*missing.* does not exist\. Create it first"),
        (lambda d: (d / "file").write_text("x") and d / "file" / "x.csv", r"is not a folder"),
    ],
)
def test_bad_destinations(tmp_path, make, match):
    with pytest.raises(OutputError, match=match):
        atomic_write_text(make(tmp_path), "x")


def test_failed_write_leaves_the_old_file_untouched(tmp_path):
    dest = tmp_path / "table.csv"
    dest.write_text("precious")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert dest.read_text() == "precious" and _no_temp_files(tmp_path)


def test_invalid_audio_never_touches_the_old_file(tmp_path):
    dest = tmp_path / "mix.wav"
    dest.write_bytes(b"old")
    y = make_tone()
    y[0, 5] = np.nan
    with pytest.raises(xmtag.errors.AudioError, match="NaN"):
        save_audio(dest, y, 8000)
    assert dest.read_bytes() == b"old"


def test_unknown_audio_extension(tmp_path):
    with pytest.raises(OutputError, match=r"unknown audio extension '\.mp4'\. Use \.wav, \.flac"):
        save_audio(tmp_path / "x.mp4", make_tone(), 8000)


def test_unwritable_folder_as_an_unprivileged_user(nobody_dir):
    locked = nobody_dir / "locked"
    locked.mkdir(mode=0o555)
    done = run_python(
        "from xmtag._files import atomic_write_text\n"
        "from xmtag.errors import OutputError\n"
        f"try:\n    atomic_write_text({str(locked / 'out.csv')!r}, 'x')\n"
        "except OutputError as e:\n    print('ERR', e)\n",
        as_nobody=True,
    )
    assert done.returncode == 0, done.stderr
    assert "ERR" in done.stdout and "Permission denied" in done.stdout and "writable location" in done.stdout
    assert list(locked.iterdir()) == []


def test_read_only_file_system(readonly_tmpfs):
    with pytest.raises(OutputError, match=r"read-only file system\. Choose another output location"):
        atomic_write_text(readonly_tmpfs / "x.csv", "x")


# ------------------------------------------------------------------------ full disk
def test_disk_full_names_the_folder_and_frees_the_partial_file(small_tmpfs):
    (small_tmpfs / "keep.bin").write_bytes(b"k" * 1000)
    with pytest.raises(OutputError, match=r"the disk holding .*full.*partial file was removed\. Free") as ei:
        atomic_write_bytes(small_tmpfs / "big.bin", b"x" * 2_000_000)
    assert str(small_tmpfs) in str(ei.value)
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["keep.bin"]


def test_disk_full_while_libsndfile_writes_audio(small_tmpfs):
    with pytest.raises(OutputError, match=r"x\.wav.*the disk holding .* is full"):
        save_audio(small_tmpfs / "x.wav", make_tone(seconds=20, channels=2), 8000)
    assert list(small_tmpfs.iterdir()) == []


def test_disk_full_while_encoding_in_the_temporary_folder(small_tmpfs, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(small_tmpfs))
    with pytest.raises(OutputError, match=r"Cannot encode wav: the temporary folder .* is full.*TMPDIR"):
        encode_audio(make_tone(seconds=20, channels=2), 8000, "wav")
    assert list(small_tmpfs.iterdir()) == []


def test_disk_full_cache_write_is_skipped_not_fatal(small_tmpfs, caplog):
    c = Cache(small_tmpfs / "cache")
    assert c.put("stems", make_key("big"), {"y": np.zeros(200_000, np.float32)}) is None
    assert "continuing without it" in caplog.text
    assert c.get("stems", make_key("big")) is None
    assert [p for p in (small_tmpfs / "cache").rglob("*") if p.is_file()] == []


# ------------------------------------------------------------------------ output folders
def test_output_dir_new_and_empty(tmp_path):
    assert prepare_output_dir(tmp_path / "a" / "b").is_dir()
    (tmp_path / "empty").mkdir()
    assert prepare_output_dir(tmp_path / "empty") == tmp_path / "empty"


def test_rerun_removes_the_previous_runs_files_only(tmp_path):
    out = prepare_output_dir(tmp_path / "out")
    (out / "plots").mkdir()
    written = [out / "report.html", out / "plots" / "bar-rock.png", out / "attributions.csv"]
    for p in written:
        p.write_text("song 1")
    (out / "my-notes.txt").write_text("mine")
    record_outputs(out, written)
    assert json.loads((out / OUTPUT_MARKER).read_text())["files"] == sorted(
        ["attributions.csv", "plots/bar-rock.png", "report.html"]
    )
    prepare_output_dir(out)
    assert sorted(p.name for p in out.iterdir()) == ["my-notes.txt"]  # old plots gone, notes kept


def test_foreign_non_empty_folder_is_refused_without_force(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputError, match=r"home.* is not empty \(thesis\.tex\).*--force"):
        prepare_output_dir(home)
    assert prepare_output_dir(home, force=True) == home
    assert (home / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize("owned", [None, "export"])
def test_output_of_an_older_xmtag_without_marker_is_refused_not_cleaned(tmp_path, owned):
    # nothing proves xmtag wrote these (the user's own audio/ folder looks the same): refuse
    from xmtag.report import OWNED

    out = tmp_path / "old"
    (out / "plots").mkdir(parents=True)
    (out / "audio").mkdir()
    (out / "report.html").write_text("old")
    (out / "plots" / "heatmap.png").write_bytes(b"png")
    with pytest.raises(OutputError, match=r"not empty .*--force"):
        prepare_output_dir(out) if owned is None else prepare_output_dir(out, owned=OWNED)
    assert (out / "report.html").read_text() == "old" and (out / "plots" / "heatmap.png").exists()


def test_a_foreign_file_inside_our_subfolder_is_refused(tmp_path):
    out = tmp_path / "old"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "heatmap.png").write_bytes(b"png")
    (out / "plots" / "drawing.svg").write_text("<svg/>")
    with pytest.raises(OutputError, match=r"not empty \(plots/drawing\.svg, plots/heatmap\.png\)"):
        prepare_output_dir(out)


def test_marker_cannot_delete_outside_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("safe")
    (out / "report.html").write_text("old")
    record_outputs(out, [out / "report.html"])
    doc = json.loads((out / OUTPUT_MARKER).read_text())
    for bad in ("../victim.txt", str(victim)):
        doc["files"].append(bad)
        doc["checks"][bad] = {"size": 4, "sha256": __import__("hashlib").sha256(b"safe").hexdigest()}
    (out / OUTPUT_MARKER).write_text(json.dumps(doc))
    prepare_output_dir(out)
    assert victim.read_text() == "safe" and not (out / "report.html").exists()


def test_damaged_marker_still_marks_an_xmtag_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / OUTPUT_MARKER).write_text("{not json")
    (out / "report.html").write_text("old")
    assert prepare_output_dir(out) == out  # recognised (no error), nothing unlisted removed
    assert (out / "report.html").exists()


def test_output_dir_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("")
    with pytest.raises(OutputError, match=r"Output folder .*out' is a file\. Choose another output folder"):
        prepare_output_dir(tmp_path / "out")


def _explanation(n_tags=400):
    rng = np.random.default_rng(0)
    return xmtag.Explanation.from_game(
        rng.uniform(size=(8, n_tags)), ["drums", "bass", "vocals"], [f"tag{i}" for i in range(n_tags)]
    )


def test_disk_full_in_explanation_save(small_tmpfs):
    expl = _explanation(n_tags=40_000)  # incompressible random values: larger than the disk
    with pytest.raises(OutputError, match=r"song\.xmtag.*the disk holding .* is full.*Free some space"):
        expl.save(small_tmpfs / "song.xmtag")
    assert list(small_tmpfs.iterdir()) == []


def test_disk_full_in_export_names_the_folder_and_lists_what_was_written(small_tmpfs):
    expl = _explanation(n_tags=40_000)
    with pytest.raises(OutputError, match=r"the disk holding .*out.* is full"):
        xmtag.export(expl, small_tmpfs / "out", audio=False, plots=False, report=False)
    left = sorted(p.name for p in (small_tmpfs / "out").iterdir())
    assert all(".tmp" not in name for name in left)  # no partial file under any name


def test_explanation_saved_into_a_pipe_loads_back(tmp_path):
    expl = _explanation(n_tags=5)
    fifo = tmp_path / "stream.xmtag"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    expl.save(fifo)
    reader.join(10)
    (tmp_path / "copy.xmtag").write_bytes(got[0])
    back = xmtag.Explanation.load(tmp_path / "copy.xmtag")
    np.testing.assert_array_equal(back.values, expl.values)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("channels", [6, 8])
def test_surround_stems_become_a_stereo_mp3_with_the_right_content(channels):
    """6- and 8-channel stems used to crash the report's MP3 encoding at the very end of a run."""
    import io

    import soundfile as sf

    from xmtag.report import audio_mp3

    sr = 44100
    y = np.zeros((channels, sr), np.float32)
    t = np.arange(sr) / sr
    y[0] = 0.5 * np.sin(2 * np.pi * 440 * t)  # front left only
    y[1] = 0.5 * np.sin(2 * np.pi * 1000 * t)  # front right only
    data = audio_mp3(y, sr)
    z, got_sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert got_sr == sr and z.shape[1] == 2
    for ch, freq in ((0, 440), (1, 1000)):  # left keeps the left tone, right the right one
        spec = np.abs(np.fft.rfft(z[2000 : 2000 + 32768, ch]))
        assert abs(np.argmax(spec) * sr / 32768 - freq) < 5


def test_replacing_a_file_keeps_its_permissions(tmp_path):
    dest = tmp_path / "private.csv"
    dest.write_text("old")
    os.chmod(dest, 0o600)
    atomic_write_text(dest, "new")
    assert dest.read_text() == "new" and stat.S_IMODE(os.stat(dest).st_mode) == 0o600


def test_pipe_closed_by_the_reader():
    """``xmtag transcribe --srt /dev/stdout | head -1``: the reader goes away mid-write."""
    import subprocess
    import sys

    from hostile_support import REPO

    code = (
        "import sys\n"
        "from xmtag._files import atomic_write_bytes\n"
        "from xmtag.errors import OutputError\n"
        "sys.stdin.readline()\n"  # wait until the parent has closed its end of the pipe
        "try:\n    atomic_write_bytes('/dev/stdout', b'x' * 10_000_000)\n"
        "except OutputError as e:\n    print(e, file=sys.stderr); sys.exit(3)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.stdout.close()  # the reader is gone before anything is written
    _, err = child.communicate("go\n", timeout=60)
    assert child.returncode == 3, err
    assert "the reading end of the pipe was closed" in err


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm here")
def test_a_regular_file_under_dev_shm_is_still_replaced_atomically():
    dest = f"/dev/shm/xmtag-hostile-{os.getpid()}.csv"
    try:
        with open(dest, "w") as fh:
            fh.write("old")
        before = os.stat(dest).st_ino
        atomic_write_text(dest, "new")
        assert open(dest).read() == "new" and os.stat(dest).st_ino != before  # a rename, not in place
    finally:
        os.unlink(dest)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"format": "aac"},
            xmtag.errors.XmtagError,
            r"format must be one of 'mp3', 'ogg', 'flac', 'wav'; got 'aac'",
        ),
        ({"sr": 0}, xmtag.errors.AudioError, r"encode_audio\(\): sr must be a positive integer, got 0"),
        ({"sr": 44100.0}, xmtag.errors.AudioError, r"sr must be a positive integer, got 44100\.0"),
        ({"y": np.zeros((2, 0), np.float32)}, xmtag.errors.AudioError, r"zero samples"),
        ({"y": np.full((1, 10), np.nan, np.float32)}, xmtag.errors.AudioError, r"NaN or infinite"),
    ],
)
def test_encode_audio_arguments(kwargs, error, match):
    args = {"y": make_tone(), "sr": 8000, "format": "mp3", **kwargs}
    with pytest.raises(error, match=match):
        encode_audio(args["y"], args["sr"], args["format"])


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "flac", "wav", ".FLAC"])
def test_encode_audio_every_format_decodes_to_the_input(fmt):
    import io

    import soundfile as sf

    y = make_tone(sr=16000, seconds=1.0, channels=2)
    z, sr = sf.read(io.BytesIO(encode_audio(y, 16000, fmt)), dtype="float32", always_2d=True)
    assert sr == 16000 and z.shape[1] == 2
    n = min(z.shape[0], y.shape[1])
    tol = {"wav": 0, "flac": 2**-23}.get(fmt.lower().lstrip("."))
    if tol is not None:
        np.testing.assert_allclose(z.T, y, atol=tol)
    else:  # lossy: the energy of each channel survives within 1 dB
        for c in range(2):
            e_in, e_out = np.mean(y[c, :n] ** 2), np.mean(z[:n, c] ** 2)
            assert abs(10 * np.log10(e_out / e_in)) < 1.0
