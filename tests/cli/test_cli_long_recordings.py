"""Long recordings on the command line (#27): ``--segment-seconds S`` and what the commands say
about their time segments; ``--report-audio-minutes M`` and what they say when the report cuts."""

from __future__ import annotations

import numpy as np
import pytest

import xmtag
import xmtag.taggers
from xmtag import Explanation
from xmtag.cli import build_parser, main
from xmtag.cli._segments import describe_lengths, input_duration, plan_segments
from xmtag.taggers import FunctionTagger

MUSICNN = {"sr": 16000, "patch_length": 47872}  # musicnn's 2.992-s patches


def test_a_length_becomes_the_nearest_count_of_whole_patches():
    # 30 s = 10 musicnn patches: 6 s asks for 5 segments of 2 patches
    plan = plan_segments(6.0, duration=30.0, **MUSICNN)
    assert plan.count == 5 and plan.seconds == pytest.approx([5.984] * 5)
    # an hour in minutes: 1203 patches -> 60 segments of 20 or 21 patches
    plan = plan_segments(60.0, duration=3600.0, **MUSICNN)
    assert plan.count == 60
    assert sum(plan.seconds) == pytest.approx(1203 * 2.992) and max(plan.seconds) - min(plan.seconds) < 3.0
    # longer than the clip: one segment; shorter than a patch: one patch each
    assert plan_segments(1e6, duration=30.0, **MUSICNN).count == 1
    assert plan_segments(0.1, duration=30.0, **MUSICNN).seconds == pytest.approx([2.992] * 10)
    # a tagger that is not patch-wise: ranges of samples, as even as samples allow
    plan = plan_segments(7.0, duration=30.0, sr=16000, patch_length=None)
    assert plan.count == 4 and plan.patch_seconds is None and plan.seconds == pytest.approx([7.5] * 4)


def test_uneven_splits_are_described():
    """The issue's case: ``--segments 8`` on a 30-s clip (10 patches) gives 2 double segments."""
    from xmtag.coalitions import patch_segments

    seconds = [(b - a) * 2.992 for a, b in patch_segments(10, 8)]
    assert describe_lengths(seconds) == "8 segments: 2 of 5.98 s and 6 of 2.99 s"
    assert describe_lengths([3.0, 3.0]) == "2 segments of 3.00 s"
    assert describe_lengths([26.0]) == "1 segment of 26.00 s (the whole clip)"


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_length_is_refused(bad):
    with pytest.raises(xmtag.XmtagError, match="--segment-seconds"):
        plan_segments(bad, duration=30.0, **MUSICNN)


def test_duration_of_files_folders_and_stems(tmp_path):
    stems = xmtag.Stems({"a": np.zeros((1, 8000 * 3)), "b": np.zeros((1, 8000 * 3))}, sr=8000)
    stems.save(tmp_path / "song")
    assert input_duration(tmp_path / "song") == pytest.approx(3.0)
    assert input_duration(tmp_path / "song" / "a.wav") == pytest.approx(3.0)
    assert input_duration(stems) == pytest.approx(3.0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(xmtag.XmtagError, match="no stem files"):
        input_duration(tmp_path / "empty")


def test_segments_and_segment_seconds_are_exclusive():
    parser = build_parser()
    for command in (["explain", "song/"], ["demo"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--segments", "2", "--segment-seconds", "60"])
        assert parser.parse_args([*command, "--segment-seconds", "60"]).segment_seconds == 60.0
    assert parser.parse_args(["demo"]).segments == 8


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """A registered patch-wise tagger (1-s patches at 8 kHz) and a 10.5-s folder of two stems."""

    def rms(patches):
        return np.sqrt((patches**2).mean(axis=1, keepdims=True))

    monkeypatch.setitem(
        xmtag.taggers._REGISTRY,
        "toy-rms",
        lambda **kw: FunctionTagger(rms, ["loud"], sample_rate=8000, patch_length=8000, name="toy-rms"),
    )
    t = np.arange(int(10.5 * 8000)) / 8000
    folder = tmp_path / "song"
    xmtag.Stems(
        {"low": 0.3 * np.sin(2 * np.pi * 110 * t)[None], "high": 0.1 * np.sin(2 * np.pi * 880 * t)[None]},
        sr=8000,
    ).save(folder)
    return folder


def _explain(folder, out, *extra):
    flags = ["--tagger", "toy-rms", "--no-cache", "--no-plots", "--no-audio", "--no-report"]
    return main(["explain", str(folder), "--out", str(out), *flags, *extra])


def test_segment_seconds_makes_the_segments_it_announces(toy, tmp_path, capsys):
    """10 whole 1-s patches, 3.4 s asked: 3 segments (4 + 3 + 3 patches), said before the work and
    after it, and those are the segments of the explanation."""
    assert _explain(toy, tmp_path / "o", "--segment-seconds", "3.4") == 0
    captured = capsys.readouterr()
    said = "3 segments: 1 of 4.00 s and 2 of 3.00 s"
    assert f"--segment-seconds 3.4 on 10.5 s makes {said} (whole 1.000-s patches of toy-rms)" in captured.err
    assert f"time-resolved values ({said})" in captured.out
    expl = Explanation.load(tmp_path / "o" / "explanation.xmtag")
    assert expl.n_segments == 3
    np.testing.assert_allclose(np.diff(expl.segment_bounds, axis=1).ravel(), [4.0, 3.0, 3.0])


def test_an_uneven_segment_count_is_said(toy, tmp_path, capsys):
    assert _explain(toy, tmp_path / "o", "--segments", "8") == 0
    assert "time-resolved values (8 segments: 2 of 2.00 s and 6 of 1.00 s)" in capsys.readouterr().out


def test_segment_seconds_errors(toy, tmp_path, capsys):
    assert _explain(toy, tmp_path / "o", "--segment-seconds", "0") == 1
    assert "--segment-seconds must be a finite number > 0" in capsys.readouterr().err
    scores = tmp_path / "scores.csv"
    scores.write_text("coalition,loud\n0,0\n1,1\n")
    args = ["explain", "--scores", str(scores), "--segment-seconds", "5", "--out", str(tmp_path / "s")]
    assert main(args) == 1
    assert "no time axis" in capsys.readouterr().err


def test_demo_passes_the_count(monkeypatch, capsys):
    """``xmtag demo --segment-seconds 6.5``: the 26-s song is 8 musicnn patches, so 4 segments of 2."""
    pytest.importorskip("torch")
    import xmtag.pipeline

    seen = []

    class Stop(Exception):
        pass

    def fake_explain(*args, **kwargs):
        seen.append(kwargs["segments"])
        raise Stop

    monkeypatch.setattr(xmtag.pipeline, "explain", fake_explain)
    args = build_parser().parse_args(["demo", "--segment-seconds", "6.5"])
    with pytest.raises(Stop):
        args.func(args)
    assert seen == [4]
    assert "makes 4 segments of 5.98 s (whole 2.992-s patches of musicnn-msd)" in capsys.readouterr().err


def test_report_audio_minutes_caps_the_report_and_says_so(toy, tmp_path, capsys):
    """10.5 s of stems, 0.1 min (6 s) embedded: the command and the page say so."""
    flags = ["--tagger", "toy-rms", "--no-cache", "--no-plots"]
    assert (
        main(["explain", str(toy), "--out", str(tmp_path / "o"), *flags, "--report-audio-minutes", "0.1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "the report embeds the first 0:06 of each stem's audio, of 0:10; --report-audio-minutes" in out
    html = (tmp_path / "o" / "report.html").read_text()
    assert "This page embeds the first 0:06 of each stem&#39;s audio, of 0:10" in html
    assert (
        main(["explain", str(toy), "--out", str(tmp_path / "a"), *flags, "--report-audio-minutes", "all"])
        == 0
    )
    assert "embeds the first" not in capsys.readouterr().out
    assert "embeds the first" not in (tmp_path / "a" / "report.html").read_text()
    assert (
        main(["explain", str(toy), "--out", str(tmp_path / "b"), *flags, "--report-audio-minutes", "0"]) == 1
    )
    assert "--report-audio-minutes must be a number of minutes > 0 or 'all'" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()  # refused before any work
    assert main(["demo", "--out", str(tmp_path / "d"), "--report-audio-minutes", "ten"]) == 1
    assert "got 'ten'" in capsys.readouterr().err and not (tmp_path / "d").exists()


def test_the_report_audio_default_is_the_library_default():
    from xmtag.cli.explain import report_audio_seconds
    from xmtag.report import DEFAULT_AUDIO_SECONDS

    for command in (["explain", "song/"], ["demo"]):
        minutes = build_parser().parse_args(command).report_audio_minutes
        assert report_audio_seconds(minutes) == DEFAULT_AUDIO_SECONDS
