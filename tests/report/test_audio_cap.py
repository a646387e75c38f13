"""The report caps the audio it embeds, says so, and keeps the whole recording's numbers (#27)."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
import soundfile as sf

import xmtag
from xmtag import Explanation, Stems, report
from xmtag.errors import XmtagError

SR = 8000


@pytest.fixture(scope="module")
def long_expl() -> Explanation:
    """Two stems of 90 s; "a" alone keeps 90 % of the tag, so it is the listenable explanation."""
    t = np.arange(90 * SR) / SR
    audio = Stems({"a": 0.2 * np.sin(2 * np.pi * 220 * t), "b": 0.2 * np.sin(2 * np.pi * 440 * t)}, sr=SR)
    return Explanation.from_game(
        [0.0, 0.9, 0.1, 1.0],
        ["a", "b"],
        ["x"],
        segment_coalition_values=np.tile(np.array([0.0, 0.9, 0.1, 1.0])[:, None, None], (1, 3, 1)),
        segment_weights=np.full(3, 1 / 3),
        segment_bounds=np.array([[0.0, 30.0], [30.0, 60.0], [60.0, 90.0]]),
        audio=audio,
    )


def _data(text: str) -> dict:
    m = re.search(r'<script type="application/json" class="xm-data">(.*?)</script>', text, re.S)
    assert m, "no data element"
    return json.loads(m.group(1))


def _seconds(data: bytes) -> float:
    info = sf.info(io.BytesIO(data))
    return info.frames / info.samplerate


def _embedded_seconds(page: dict) -> list[float]:
    return [_seconds(base64.b64decode(s["b64"])) for s in page["audio"]["stems"]]


def test_audio_cap_says_when_a_page_is_cut(long_expl):
    assert report.DEFAULT_AUDIO_SECONDS == 600.0
    assert report.audio_cap(long_expl) is None  # 90 s < 10 min: all of it
    assert report.audio_cap(long_expl, 60) == 60.0
    assert report.audio_cap(long_expl, 90) is None and report.audio_cap(long_expl, None) is None
    assert report.audio_cap(Explanation.from_game([0.0, 1.0], ["a"], ["x"]), 1.0) is None  # no audio
    for bad in (0, -5, float("nan"), "10"):
        with pytest.raises(XmtagError, match="max_audio_seconds"):
            report.audio_cap(long_expl, bad)


def test_a_capped_page_embeds_the_first_part_and_says_so(long_expl, tmp_path):
    text = report.write_html(long_expl, tmp_path / "r.html", max_audio_seconds=60).read_text()
    page = _data(text)
    assert page["audio"]["capped"] is True and page["audio"]["seconds"] == 60.0
    assert all(abs(s - 60.0) < 0.2 for s in _embedded_seconds(page))
    # the numbers still cover the whole recording
    assert page["duration"] == 90.0 and page["segments"]["bounds"][-1] == [60.0, 90.0]
    note = "This page embeds the first 1:00 of each stem&#39;s audio, of 1:30"
    assert note in text and "Playback stops there" in text  # visible above the desk
    assert "2 stems × 60.0 s (the first part only, capped)" in text  # the page's stated size
    whole = _data(report.to_html(long_expl, max_audio_seconds=None))
    assert whole["audio"]["capped"] is False and whole["audio"]["seconds"] == 90.0
    assert all(abs(s - 90.0) < 0.2 for s in _embedded_seconds(whole))
    assert "embeds the first" not in report.to_html(long_expl)  # the default cap (10 min) is not reached


def test_export_caps_the_report_but_not_the_listenable_files(long_expl, tmp_path):
    """The report's stem "a" (cut) and the listenable explanation "a" (whole) are two encodings."""
    written = xmtag.export(long_expl, tmp_path / "o", plots=False, max_audio_seconds=30)
    assert abs(_seconds(written["listen:x"].read_bytes()) - 90.0) < 0.2
    page = _data(written["report"].read_text())
    assert all(abs(s - 30.0) < 0.2 for s in _embedded_seconds(page))
    uncapped = xmtag.export(long_expl, tmp_path / "p", plots=False)
    assert all(abs(s - 90.0) < 0.2 for s in _embedded_seconds(_data(uncapped["report"].read_text())))
