"""xmtag.report: the page's data, size budget, notebook view, show() (no browser needed here;
tests/browser drives the page itself in Chromium)."""

from __future__ import annotations

import json
import re
import webbrowser

import numpy as np
import pytest

import xmtag
from xmtag import Explanation, Stems, report
from xmtag.errors import OutputError, UnknownTagError, XmtagError
from xmtag.report._data import SIZE_BUDGET_MB, page_data, unpack

STEMS = ["drums", "bass", "guitar"]
LABELS = ["rock", "jazz", "female vocalists", "pop"]


@pytest.fixture(scope="module")
def expl() -> Explanation:
    rng = np.random.default_rng(1)
    seg = rng.uniform(0.05, 0.95, (8, 2, len(LABELS)))
    sr = 8000
    t = np.arange(2 * sr) / sr
    audio = Stems({s: 0.2 * np.sin(2 * np.pi * f * t) for s, f in zip(STEMS, (100, 200, 400))}, sr=sr)
    return Explanation.from_game(
        seg.mean(1),
        STEMS,
        LABELS,
        segment_coalition_values=seg,
        segment_weights=np.full(2, 0.5),
        segment_bounds=np.array([[0.0, 1.0], [1.0, 2.0]]),
        metadata={"tagger": {"name": "musicnn-msd"}},
        audio=audio,
    )


def _data(text: str) -> dict:
    m = re.search(r'<script type="application/json" class="xm-data">(.*?)</script>', text, re.S)
    assert m, "no data element"
    return json.loads(m.group(1))


def test_page_embeds_the_numbers_and_the_stems(expl, tmp_path):
    text = report.write_html(expl, tmp_path / "r.html", top=2).read_text()
    assert text.startswith("<!DOCTYPE html>")
    d = _data(text)
    np.testing.assert_allclose(unpack(d["coalitions"]), expl.coalition_values, atol=1e-7)
    np.testing.assert_allclose(unpack(d["values"]), expl.values, atol=1e-7)
    np.testing.assert_allclose(unpack(d["segments"]["coalitions"]), expl.segment_coalition_values, atol=1e-7)
    assert d["shown"] == [expl.tag_index(t) for t in expl.top_tags(2)]
    assert [s["name"] for s in d["audio"]["stems"]] == STEMS
    assert all(s["mime"] in ("audio/mpeg", "audio/ogg") and len(s["b64"]) > 1000 for s in d["audio"]["stems"])
    # nothing is loaded from outside the file: no src/href attributes at all, no fetches in the script
    assert not re.search(r'\s(src|href)="', text)
    assert "fetch(" not in text and "XMLHttpRequest" not in text and "@import" not in text
    for stem in STEMS:
        assert f'aria-label="Mute {stem}' in text and f'aria-label="Solo {stem}' in text
    assert "This page: " in text and f"Budget: {SIZE_BUDGET_MB:g} MB" in text


def test_page_without_audio_says_why(expl, tmp_path):
    detached = Explanation.from_game(expl.coalition_values, STEMS, LABELS)
    text = report.write_html(detached, tmp_path / "r.html", tags=["female vocalists"]).read_text()
    assert _data(text)["audio"] is None and "not attached" in text
    assert "audio=False" in report.to_html(expl, audio=False)
    assert "no audio embedded" in text


def test_labels_cannot_break_out_of_the_page(tmp_path):
    labels = ["</script><b>x", "a&b", "<!--"]
    e = Explanation.from_game(np.random.default_rng(0).random((4, 3)), ["s1", "s2"], labels)
    text = report.to_html(e, top=3)
    assert "</script><b>" not in text
    assert _data(text)["labels"] == labels
    assert "&lt;/script&gt;&lt;b&gt;x" in text  # the static table escapes it


def test_errors_name_the_input(expl, tmp_path):
    with pytest.raises(UnknownTagError, match="Unknown tag 'rokc'"):
        report.to_html(expl, tags=["rokc"])
    with pytest.raises(XmtagError, match=r"share must be in \(0, 1\]"):
        report.to_html(expl, share=1.5)
    with pytest.raises(XmtagError, match="top"):
        report.to_html(expl, top=0)
    with pytest.raises(OutputError, match="no such file"):
        report.open_in_browser(tmp_path / "missing.html")


def test_notebook_view_is_compact(expl):
    fragment = report.repr_html(expl)
    assert "<html" not in fragment and 'data-keys="root"' in fragment
    assert _data(fragment)["audio"] is None
    assert len(fragment) < 80_000
    with_audio = report.repr_html(expl, audio=True)
    assert _data(with_audio)["audio"] is not None
    if hasattr(Explanation, "_repr_html_"):
        assert 'data-keys="root"' in expl._repr_html_()


def test_show_writes_and_opens(expl, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    path = report.show(expl, tmp_path / "s.html", audio=False)
    assert path.exists() and opened == [path.resolve().as_uri()]
    assert report.show(expl, open=False, audio=False).parent.name.startswith("xmtag-report-")
    assert len(opened) == 1
    monkeypatch.setattr(webbrowser, "open", lambda url: False)
    assert report.open_in_browser(path) is False


def test_sampled_explanation_data():
    from browser import pages

    e = pages.sampled()
    d = page_data(e, shown=["rock"], audio=False)
    assert d["coalitions"] is None and d["exact"] is False and d["method"] == "permutation"
    np.testing.assert_allclose(unpack(d["stderr"]), 0.01, atol=1e-7)
    assert d["listen"] == {}  # no smallest coalition without every coalition
    text = report.to_html(e, audio=False)
    assert "only the full mix and silence have scores" in text and "± 0.020" in text


def test_demo_song_fits_the_size_budget(tmp_path):
    """The page of the 26-s, 5-stem demo song with every stem embedded stays under 8 MB."""
    stems = xmtag.load_demo()
    n = len(stems.names)
    cv = np.random.default_rng(0).random((2**n, 50))
    e = Explanation.from_game(cv, stems.names, [f"tag{i}" for i in range(50)], audio=stems)
    path = report.write_html(e, tmp_path / "demo.html")
    size = path.stat().st_size
    assert size <= SIZE_BUDGET_MB * 1e6
    stated = re.search(r"This page: ([0-9.]+) MB", path.read_text()).group(1)
    assert float(stated) == pytest.approx(size / 1e6, abs=0.01)


def test_cli_open_flag_opens_the_report(expl, tmp_path, monkeypatch):
    from xmtag.cli import build_parser
    from xmtag.cli.explain import write_outputs

    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    for cmd in (["explain", "song/"], ["demo"]):
        assert build_parser().parse_args([*cmd, "--open"]).open is True
    args = build_parser().parse_args(["explain", "song/", "--open", "--no-audio", "--top", "1"])
    args.quiet = True
    written = write_outputs(expl, tmp_path / "out", args)
    assert opened == [written["report"].resolve().as_uri()]


def test_cli_open_without_a_browser_says_where_the_report_is(expl, tmp_path, monkeypatch, capsys):
    """`xmtag demo --open` on a machine without a browser used to open nothing and say nothing."""
    from xmtag.cli import build_parser
    from xmtag.cli.explain import write_outputs

    monkeypatch.setattr(webbrowser, "open", lambda url: False)
    args = build_parser().parse_args(["explain", "song/", "--open", "--no-audio", "--top", "1"])
    args.quiet = True  # even with -q: the user asked for the page
    written = write_outputs(expl, tmp_path / "out", args)
    out = capsys.readouterr().out
    assert str(written["report"].resolve()) in out and "no web browser" in out


def test_a_page_over_the_budget_says_how_to_shrink_it(expl, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(report._html, "SIZE_BUDGET_MB", 0.01)
    with caplog.at_level("WARNING", logger="xmtag.report"):
        report.write_html(expl, tmp_path / "big.html")
    assert "audio=False" in caplog.text
