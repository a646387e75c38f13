"""The interactive report in a real browser (headless Chromium through Playwright).

Assertions read the rendered page (text, attributes, element states), not the HTML source.
Marked ``browser``; skipped with the reason where Playwright or Chromium is missing.
"""

from __future__ import annotations

import pytest
from browser import pages
from browser.chromium import open_page

from xmtag.report import write_html

pytestmark = pytest.mark.browser
FULL = 2 ** len(pages.STEMS) - 1


def _scores(page) -> dict[str, tuple[str, float | None]]:
    out = {}
    for e in page.query_selector_all(".xm-score"):
        raw = e.get_attribute("data-value")
        text = e.evaluate("n => n.firstChild.textContent")
        out[e.get_attribute("data-tag")] = (text, float(raw) if raw else None)
    return out


def _expect_mask(page, expl, mask: int) -> None:
    assert page.get_attribute(".xm", "data-mask") == str(mask)
    shown = _scores(page)
    assert shown, "no scores on the page"
    for tag, (text, value) in shown.items():
        want = float(expl.coalition_values[mask, expl.tag_index(tag)])
        assert text == f"{want:.3f}", (tag, mask, text, want)
        assert value == pytest.approx(want, abs=1e-6)  # float32 in the page


@pytest.fixture
def page_of(chromium, tmp_path):
    opened = []

    def make(expl, name="report.html", **kw):
        path = write_html(expl, tmp_path / name, **kw)
        page, log = open_page(chromium, path.as_uri())
        opened.append(page)
        return page, log

    yield make
    for p in opened:
        p.close()


def test_toggling_stems_shows_the_score_of_that_mix(page_of):
    expl = pages.exact()
    page, log = page_of(expl, top=4)
    _expect_mask(page, expl, FULL)
    assert page.text_content(".xm-mix") == "the full mix"
    page.click(".xm-strip[data-stem='1'] .xm-mute")  # bass off
    _expect_mask(page, expl, 0b101)
    assert page.text_content(".xm-mix") == "drums + guitar"
    assert page.get_attribute(".xm-strip[data-stem='1'] .xm-mute", "aria-pressed") == "true"
    page.keyboard.press("1")  # drums off
    _expect_mask(page, expl, 0b100)
    page.keyboard.press("3")  # guitar off: silence
    _expect_mask(page, expl, 0)
    assert page.text_content(".xm-mix").startswith("silence")
    page.keyboard.press("2")
    _expect_mask(page, expl, 0b010)
    page.keyboard.press("0")
    _expect_mask(page, expl, FULL)
    assert not log.problems()


def test_solo(page_of):
    expl = pages.exact()
    page, log = page_of(expl)
    page.click(".xm-strip[data-stem='2'] .xm-solo")
    _expect_mask(page, expl, 0b100)
    page.click(".xm-strip[data-stem='0'] .xm-solo")
    _expect_mask(page, expl, 0b101)
    page.click(".xm-strip[data-stem='0'] .xm-mute")  # a mute under solo changes nothing ...
    _expect_mask(page, expl, 0b101)
    page.click(".xm-strip[data-stem='2'] .xm-solo")
    page.click(".xm-strip[data-stem='0'] .xm-solo")  # ... until the solos are off
    _expect_mask(page, expl, 0b110)
    page.keyboard.press("0")
    page.keyboard.press("2")  # the last stem touched is bass; s solos it
    page.keyboard.press("s")
    _expect_mask(page, expl, 0b010)
    assert page.get_attribute(".xm-strip[data-stem='1'] .xm-solo", "aria-pressed") == "true"
    assert not log.problems()


def test_strips_and_waterfall_show_the_selected_tag(page_of):
    expl = pages.exact()
    page, log = page_of(expl, tags=["jazz", "rock"])
    j = expl.tag_index("jazz")
    for i in range(3):
        assert page.text_content(f".xm-strip[data-stem='{i}'] .xm-shap-num") == (
            f"{expl.values[i, j]:+.3f}".replace("-", "\u2212")
        )
    assert page.text_content(".xm-tag-name") == "jazz"
    labels = page.eval_on_selector_all(".xm-waterfall text", "ns => ns.map(n => n.textContent)")
    assert labels[:2] == ["silence", f"{expl.base_values[j]:.3f}"] and "full mix" in labels
    # "Hear it" sets the desk to the smallest mix that keeps the tag
    pick = expl.smallest_coalition("jazz")
    page.click(".xm-hear")
    assert page.get_attribute(".xm", "data-mask") == str(pick.mask)
    page.click(".xm-tagbtn:has-text('rock')")
    assert page.text_content(".xm-tag-name") == "rock"
    j = expl.tag_index("rock")
    assert page.text_content(".xm-strip[data-stem='0'] .xm-shap-num") == (
        f"{expl.values[0, j]:+.3f}".replace("-", "\u2212")
    )
    assert not log.problems()


def test_tag_picker_searches_every_label(page_of):
    expl = pages.exact()
    page, log = page_of(expl, top=2)
    page.click(".xm-search")
    page.keyboard.type("voc")
    options = page.eval_on_selector_all(".xm-list li[role=option] b", "ns => ns.map(n => n.textContent)")
    assert options == ["female vocalists"]
    page.keyboard.press("Enter")
    assert page.text_content(".xm-tag-name") == "female vocalists"
    assert "female vocalists" in _scores(page)  # the selected tag joins the bars
    assert page.is_hidden(".xm-list")
    assert not log.problems()


def test_segment_scores_follow_the_playhead(page_of):
    expl = pages.exact()
    page, log = page_of(expl, top=3)
    box = page.query_selector(".xm-wave-wrap").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 2.5 / 3, box["y"] + box["height"] / 2)  # segment 3
    assert float(page.get_attribute(".xm-playhead", "data-time")) == pytest.approx(2.5, abs=0.05)
    page.keyboard.press("1")  # drums off
    for e in page.query_selector_all(".xm-score"):
        j = expl.tag_index(e.get_attribute("data-tag"))
        seg = float(e.query_selector(".xm-segscore").get_attribute("data-value"))
        assert seg == pytest.approx(expl.segment_coalition_values[0b110, 2, j], abs=1e-6)
    page.focus(".xm-wave-wrap")  # the timeline is a slider: arrow keys step a second
    page.keyboard.press("ArrowLeft")
    assert float(page.get_attribute(".xm-playhead", "data-time")) == pytest.approx(1.5, abs=0.05)
    page.keyboard.press("ArrowRight")
    # the loop button loops the segment under the playhead
    page.click(".xm-loop")
    assert page.get_attribute(".xm-loop", "aria-pressed") == "true"
    band = page.query_selector(".xm-loopband").bounding_box()
    assert band["x"] == pytest.approx(box["x"] + box["width"] * 2 / 3, abs=3)
    # dragging across the timeline loops that stretch instead
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=4)
    page.mouse.up()
    loop = page.evaluate("document.querySelector('.xm').__xm.state.loop")
    assert loop == pytest.approx([0.3, 0.9], abs=0.02)
    assert float(page.get_attribute(".xm-playhead", "data-time")) == pytest.approx(0.3, abs=0.02)
    assert not log.problems()


def test_playhead_moves_while_playing(page_of):
    expl = pages.exact(audio=True)
    page, log = page_of(expl)
    page.wait_for_function("() => !document.querySelector('.xm-play').disabled", timeout=15_000)
    page.click(".xm-play")
    assert page.get_attribute(".xm-play", "aria-pressed") == "true"
    page.wait_for_function("() => +document.querySelector('.xm-playhead').dataset.time > 0.3", timeout=10_000)
    # the meter of a playing stem moves; a muted one stays at zero
    page.keyboard.press("1")
    meter = ".xm-strip[data-stem='1'] .xm-meter"
    page.wait_for_function(f"() => +document.querySelector(\"{meter}\").getAttribute('aria-valuenow') > 0")
    page.wait_for_timeout(200)
    assert page.get_attribute(".xm-strip[data-stem='0'] .xm-meter", "aria-valuenow") == "0"
    page.keyboard.press(" ")
    assert page.get_attribute(".xm-play", "aria-pressed") == "false"
    t = page.get_attribute(".xm-playhead", "data-time")
    page.wait_for_timeout(300)
    assert page.get_attribute(".xm-playhead", "data-time") == t  # paused: it stays
    assert float(t) > 0.3
    assert page.evaluate("document.querySelector('.xm').__xm.audio().buffers.length") == 3
    assert not log.problems()


def test_a_capped_page_plays_its_audio_and_no_further(page_of):
    """3 s of stems, 1 s embedded (#27): playback ends at 1 s, and a play after it says why."""
    expl = pages.exact(audio=True)
    page, log = page_of(expl, max_audio_seconds=1.0)
    assert "embeds the first 0:01 of each stem's audio, of 0:03" in page.inner_text(".xm-audio-note")
    page.wait_for_function("() => !document.querySelector('.xm-play').disabled", timeout=15_000)
    page.click(".xm-play")
    page.wait_for_function("() => +document.querySelector('.xm-playhead').dataset.time > 0.3", timeout=10_000)
    page.wait_for_timeout(1500)  # past the embedded 1 s, before the timeline's 3 s
    assert page.get_attribute(".xm-play", "aria-pressed") == "false"  # stopped where the audio ends
    assert float(page.get_attribute(".xm-playhead", "data-time")) == 0.0  # back to the start
    box = page.query_selector(".xm-wave-wrap").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 2.5 / 3, box["y"] + box["height"] / 2)
    page.click(".xm-play")
    assert page.get_attribute(".xm-play", "aria-pressed") == "false"
    assert "No audio after 0:01.0 on this page" in page.inner_text(".xm-audio-note")
    assert not log.problems()


def test_sampled_explanation_shows_intervals_and_unavailable_mixes(page_of):
    expl = pages.sampled()
    page, log = page_of(expl, top=3)
    assert "\u00b1 0.020" in page.text_content(".xm-strip[data-stem='0'] .xm-shap-num")  # 1.96 * 0.01
    note = page.text_content(".xm-interval-note")
    assert page.is_visible(".xm-interval-note") and "95 % interval" in note
    assert note.count("1.96") == 1, note  # the multiplier is said once
    full = _scores(page)
    for tag, (text, _) in full.items():
        assert text == f"{expl.prediction[expl.tag_index(tag)]:.3f}"
    assert page.is_hidden(".xm-unavail")
    page.keyboard.press("2")
    assert page.is_visible(".xm-unavail")
    assert "Not available for drums + guitar" in page.text_content(".xm-unavail")
    assert all(text == "n/a" and value is None for text, value in _scores(page).values())
    page.keyboard.press("1")
    page.keyboard.press("3")  # silence is known
    for tag, (text, _) in _scores(page).items():
        assert text == f"{expl.base_values[expl.tag_index(tag)]:.3f}"
    assert not log.problems()


def test_phone_width_and_accessible_controls(chromium, tmp_path):
    path = write_html(pages.exact(audio=True), tmp_path / "phone.html")
    page, log = open_page(chromium, path.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(100)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    unnamed = page.evaluate(
        """[...document.querySelectorAll('button, input, [role=slider], [role=meter]')]
             .filter(e => !(e.getAttribute('aria-label') || (e.labels && e.labels.length)))
             .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    widths = page.eval_on_selector_all(".xm-strip", "ns => ns.map(n => n.getBoundingClientRect().right)")
    assert max(widths) <= 390
    page.close()
    assert not log.problems()


def test_offline_from_file_without_console_errors(chromium, tmp_path):
    """The page loads from file:// offline, with every other request aborted, and says nothing."""
    expl = pages.exact(audio=True)
    path = write_html(expl, tmp_path / "offline.html")
    chromium.set_offline(True)
    try:
        page, log = open_page(chromium, path.as_uri())
        page.wait_for_function("() => !document.querySelector('.xm-play').disabled", timeout=15_000)
        page.click(".xm-play")
        page.wait_for_timeout(300)
        page.keyboard.press("2")
        page.keyboard.press("l")
        page.wait_for_timeout(200)
        page.keyboard.press(" ")
        assert float(page.get_attribute(".xm-playhead", "data-time")) > 0
        # a screenshot renders (the docs' one is made by docs/_tools/make_report_screenshot.py)
        png = page.screenshot()
        assert png[:4] == b"\x89PNG" and len(png) > 10_000
        page.close()
    finally:
        chromium.set_offline(False)
    assert log.blocked == []
    assert log.problems() == []


def test_notebook_views_are_independent(chromium, tmp_path):
    """Two notebook outputs on one page: each desk mounts, keys act on the focused one only."""
    from xmtag import report

    expl = pages.exact()
    page_file = tmp_path / "notebook.html"
    page_file.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
        + report.repr_html(expl, top=2)
        + report.repr_html(pages.sampled(), top=2)
        + "</body></html>"
    )
    page, log = open_page(chromium, page_file.as_uri())
    page.wait_for_function("() => document.querySelectorAll('.xm[data-ready=true]').length === 2")
    roots = page.query_selector_all(".xm")
    roots[0].focus()
    page.keyboard.press("2")
    assert roots[0].get_attribute("data-mask") == str(FULL & ~0b010)
    assert roots[1].get_attribute("data-mask") == str(FULL)
    roots[1].focus()
    page.keyboard.press("1")
    assert roots[1].get_attribute("data-mask") == str(FULL & ~0b001)
    assert roots[0].get_attribute("data-mask") == str(FULL & ~0b010)
    assert page.is_disabled(".xm-play")  # no audio in a notebook view unless asked
    page.close()
    assert not log.problems()


@pytest.mark.parametrize("method", ["banzhaf", "permutation", "lime", "loo"])  # kernel: as permutation
def test_every_method_of_the_engine(page_of, method):
    """Real explain() runs: the page names what the numbers are, and never shows a wrong mix score."""
    expl = pages.engine(method)
    page, log = page_of(expl, name=f"{method}.html")
    names = {"banzhaf": "Banzhaf value", "lime": "LIME weight", "loo": "leave-one-out effect"}
    assert names.get(method, "Shapley value") in page.text_content(".xm-tagview h3")
    page.keyboard.press("1")  # drop stem a
    mask = 0b1110
    for tag, (text, value) in _scores(page).items():
        if expl.coalition_values is None:
            assert text == "n/a" and value is None
        else:
            assert value == pytest.approx(expl.coalition_values[mask, expl.tag_index(tag)], abs=1e-6)
    assert page.is_visible(".xm-unavail") == (expl.coalition_values is None)
    rows = page.eval_on_selector_all(".xm-waterfall text", "ns => ns.map(n => n.textContent)")
    assert ("not attributed" in rows) == (method in ("banzhaf", "lime", "loo"))
    assert page.is_visible(".xm-interval-note") == (expl.stderr is not None)
    assert not log.problems()
