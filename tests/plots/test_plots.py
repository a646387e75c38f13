"""xmtag.plots, shap interoperability and the report's PNG plots."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from xmtag import Explanation, Stems, plots
from xmtag.errors import XmtagError
from xmtag.explanation._explanation import UnknownTagError
from xmtag.report import render_plots, slug

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEMS = ["drums", "bass", "guitar"]
LABELS = ["rock", "jazz", "female vocalists", "pop"]


def _game(seed: int = 0, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    seg = rng.random((8, k, len(LABELS)))
    seg[0] = 0.1  # silence
    return seg.mean(1), seg


@pytest.fixture(scope="module")
def expl() -> Explanation:
    values, seg = _game()
    sr = 8000
    t = np.arange(3 * sr) / sr
    audio = Stems({s: 0.2 * np.sin(2 * np.pi * f * t) for s, f in zip(STEMS, (100, 200, 400))}, sr=sr)
    return Explanation.from_game(
        values,
        STEMS,
        LABELS,
        segment_coalition_values=seg,
        segment_weights=np.full(3, 1 / 3),
        segment_bounds=np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]),
        metadata={"tagger": {"name": "musicnn-msd"}},
        audio=audio,
    )


def _png(fig: Figure, tmp_path, name: str) -> bytes:
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 2000
    return data


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("bar", lambda e: plots.bar(e, "rock")),
        ("heatmap", lambda e: plots.heatmap(e)),
        ("waterfall", lambda e: plots.waterfall(e, "jazz")),
        ("timeline", lambda e: plots.timeline(e, "female vocalists")),
        ("timeline_clip_units", lambda e: plots.timeline(e, "rock", local=False, waveform=False)),
        ("interactions", lambda e: plots.interactions(e, "pop")),
    ],
)
def test_every_plot_renders_to_png_without_warnings(expl, tmp_path, name, call):
    before = plt.get_fignums()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = call(expl)
        assert isinstance(fig, Figure)
        _png(fig, tmp_path, name)
    assert plt.get_fignums() == before  # no pyplot state touched, nothing shown
    assert fig.axes[0].get_title()  # every plot has a title


@pytest.mark.parametrize("func", ["bar", "heatmap", "waterfall", "timeline", "interactions"])
def test_plots_draw_into_a_given_axes(expl, func):
    fig = Figure()
    ax = fig.add_subplot()
    args = () if func == "heatmap" else ("rock",)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = getattr(plots, func)(expl, *args, ax=ax)
    assert out is fig
    assert ax.has_data() or ax.images


def test_bar_shows_each_stem_value(expl):
    fig = plots.bar(expl, "rock")
    ax = fig.axes[0]
    widths = sorted(p.get_width() for p in ax.patches)
    np.testing.assert_allclose(widths, np.sort(expl.values[:, 0]))
    assert {t.get_text() for t in ax.get_yticklabels()} == set(STEMS)
    assert "rock" in ax.get_title() and "Shapley value" in ax.get_xlabel()
    assert "probability" in ax.get_xlabel()  # musicnn units


def test_heatmap_is_centred_and_annotated(expl):
    fig = plots.heatmap(expl, tags=["rock", "jazz"])
    ax = fig.axes[0]
    image = ax.images[0]
    assert image.norm.vcenter == 0.0 and image.norm.vmin == -image.norm.vmax
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 2 * len(STEMS)
    assert f"{expl.values[0, 1]:+.3f}" in texts
    np.testing.assert_allclose(image.get_array(), expl.values[:, :2].T)


def test_waterfall_ends_at_the_prediction(expl):
    ax = plots.waterfall(expl, "jazz", sort=False).axes[0]
    bars = ax.patches
    assert len(bars) == len(STEMS) + 2
    assert bars[0].get_height() == pytest.approx(expl.base_values[1])
    assert bars[-1].get_height() == pytest.approx(expl.prediction[1])
    steps = [b.get_height() for b in bars[1:-1]]
    np.testing.assert_allclose(steps, expl.values[:, 1])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "silence" and labels[-1] == "full mix"


def test_timeline_stacks_the_segment_values(expl):
    fig = plots.timeline(expl, "rock")
    assert len(fig.axes) == 2  # attribution above the waveform
    ax = fig.axes[0]
    heights = np.array([p.get_height() for p in ax.patches]).reshape(len(STEMS), 3)
    np.testing.assert_allclose(heights, expl.segment_values[:, :, 0] * 3)  # local = value / weight
    assert fig.axes[1].get_xlabel() == "time (s)"


def test_plot_errors(expl):
    no_segments = Explanation.from_game(expl.coalition_values, STEMS, LABELS)
    with pytest.raises(XmtagError, match="segments"):
        plots.timeline(no_segments, "rock")
    with pytest.raises(UnknownTagError, match="Did you mean 'rock'"):
        plots.bar(expl, "rok")
    with pytest.raises(UnknownTagError):
        plots.heatmap(expl, tags=["nope"])
    with pytest.raises(XmtagError):
        plots.heatmap(expl, top=0)


def test_to_shap_is_accepted_by_shap_plots(expl):
    shap = pytest.importorskip("shap")

    before = plt.get_fignums()
    sv = expl.to_shap()
    shap.plots.bar(sv, show=False)
    shap.plots.bar(expl.to_shap("rock"), show=False)
    shap.plots.waterfall(expl.to_shap("jazz"), show=False)
    shap.plots.waterfall(sv["pop"], show=False)
    assert len(plt.get_fignums()) > len(before)
    for num in set(plt.get_fignums()) - set(before):
        plt.close(num)


def test_render_plots(expl):
    # the HTML report itself: tests/test_report.py and tests/browser
    images = render_plots(expl, ["female vocalists"])
    assert set(images) == {
        "heatmap",
        "bar-female_vocalists",
        "waterfall-female_vocalists",
        "timeline-female_vocalists",
        "interactions-female_vocalists",
    }
    assert all(png.startswith(PNG_MAGIC) for _, png in images.values())
    assert slug("hip-hop") == "hip-hop" and slug("80s / new wave") == "80s_new_wave"
