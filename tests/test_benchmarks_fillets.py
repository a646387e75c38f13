"""The real-voice diarization set builder (benchmarks/data/fillets.py).

The parsing tests run on small made-up level files; the building tests use a few real lines
from the Debian packages fillets-ng-data + fillets-ng-data-cs / -nl and are skipped, saying so,
where those are not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
if str(DATA) not in sys.path:
    sys.path.insert(0, str(DATA))

import fillets  # noqa: E402

needs_data = pytest.mark.skipif(
    not fillets.available(),
    reason="Fish Fillets voices not installed "
    "(apt-get install fillets-ng-data fillets-ng-data-cs fillets-ng-data-nl)",
)

CODE = """
function prog_init()
    addm(6, "lv-m-ahoj")   -- addv(1, "lv-v-commented")
    addv(random(10) + 5, "lv-v-cau")
    adddel(10)
    room:planDialog(5, "lv-x-zvuk")
    addm(0, "lv-m-var" ..random(2))
    addv(3, "lv-v-cau")
    addv(2, "rand-2-1")
    parrot:planDialog(1, "lv-pap-hola")
end
"""
DIALOGS = """
dialogId("lv-m-ahoj", "font_small", "Hello.")
dialogStr("Ahoj.")

dialogId("lv-v-cau", "font_big", "Hi, \\"you\\".")
dialogStr("Čau, \\"ty\\".")

dialogId("lv-x-zvuk", "", "")

dialogId("lv-m-var0", "font_small", "One.")
dialogStr("Jedna.")

dialogId("lv-m-var1", "font_small", "Two.")
dialogStr("Dva.")

dialogId("rand-2-1", "font_big", "Where?")
dialogStr("Kde?")

dialogId("lv-pap-hola", "font_parrot", "Polly.")
dialogStr("Papoušek.")
"""


def _fake_root(tmp_path: Path) -> Path:
    import soundfile as sf

    script = tmp_path / "script" / "level"
    script.mkdir(parents=True)
    (script / "code.lua").write_text(CODE)
    (script / "dialogs_cs.lua").write_text(DIALOGS, encoding="utf-8")
    sound = tmp_path / "sound" / "level" / "cs"
    sound.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, ident in enumerate(
        ("lv-m-ahoj", "lv-v-cau", "lv-x-zvuk", "lv-m-var0", "lv-m-var1", "rand-2-1", "lv-pap-hola")
    ):
        y = np.zeros(22050, np.float32)
        y[2205:-2205] = 0.3 * np.sin(2 * np.pi * (200 + 50 * k) * np.arange(22050 - 4410) / 22050)
        y[2205:-2205] += 0.01 * rng.standard_normal(22050 - 4410).astype(np.float32)
        sf.write(sound / f"{ident}.ogg", y, 22050, format="OGG", subtype="VORBIS")
    return tmp_path


def test_script_order_ids_and_variants(tmp_path):
    root = _fake_root(tmp_path)
    ids = fillets.script_ids("level", root)
    assert ids == [
        ("lv-m-ahoj", 0, "m"),
        ("lv-v-cau", 0, "v"),
        ("lv-x-zvuk", 0, None),
        ("lv-m-var", 2, "m"),
        ("lv-v-cau", 0, "v"),
        ("rand-2-1", 0, "v"),
        ("lv-pap-hola", 0, None),
    ]
    texts = fillets.dialog_texts("level", "cs", root)
    assert texts["lv-v-cau"] == ("font_big", 'Čau, "ty".')
    assert texts["lv-x-zvuk"][0] == ""


def test_levels_keep_spoken_lines_once_in_script_order(tmp_path):
    root = _fake_root(tmp_path)
    (lv,) = fillets.levels("cs", root)
    assert [ln.id for ln in lv.lines] == [
        "lv-m-ahoj",
        "lv-v-cau",
        "lv-m-var0",
        "lv-m-var1",
        "rand-2-1",
        "lv-pap-hola",
    ]
    # the speaker is the fish of the addm/addv call (the numbered id "rand-2-1" names nobody),
    # a named character's font is one speaker in every level
    assert [ln.speaker for ln in lv.lines] == ["cs-m", "cs-v", "cs-m", "cs-m", "cs-v", "cs-parrot"]
    assert lv.lines[0].text == "Ahoj." and lv.lines[0].path.name == "lv-m-ahoj.ogg"
    with pytest.raises(FileNotFoundError, match="fillets-ng-data-nl"):
        fillets.levels("nl", root)


def test_conversation_from_made_up_lines(tmp_path):
    root = _fake_root(tmp_path)
    (lv,) = fillets.levels("cs", root)
    lines = [ln for ln in lv.lines if ln.who in ("m", "v")]
    a = fillets.build_conversation(lines, seed=3, uri="t")
    b = fillets.build_conversation(lines, seed=3, uri="t")
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.turns == b.turns and a.speakers == ["cs-m", "cs-v"]
    # the trimmed line (0.1 s of silence each side in the file) is about 0.8 s long
    for s, e, _ in a.turns:
        assert 0.7 < e - s < 0.95
    assert a.rttm().splitlines()[0].startswith("SPEAKER t 1 ")
    assert a.duration >= max(e for _, e, _ in a.turns)


def test_voice_segments_cut_reverberant_tail_and_pauses():
    sr = 16000
    rng = np.random.default_rng(0)
    t = np.arange(sr) / sr
    word = (0.5 * np.sin(2 * np.pi * 180 * t[: sr // 2])).astype(np.float32)
    # 0.5 s of voice, a 0.5-s reverberant decay (-60 dB/s from -15 dB), 0.4 s of silence, 0.5 s of voice
    tail = (
        0.5 / np.sqrt(2) * 10 ** (-15 / 20) * np.exp(-6.9 * t[: sr // 2]) * rng.standard_normal(sr // 2)
    ).astype(np.float32)
    y = np.concatenate([word, tail, np.zeros(int(0.4 * sr), np.float32), word])
    segs = fillets.voice_segments(y, sr)
    assert len(segs) == 2
    (a0, b0), (a1, b1) = segs
    assert a0 == 0.0 and 0.5 <= b0 < 0.62  # the decay below -20 dB is not voice
    assert a1 == pytest.approx(1.4, abs=0.02) and b1 == pytest.approx(len(y) / sr, abs=0.02)
    # a pause shorter than 0.3 s does not split the line
    y2 = np.concatenate([word, np.zeros(int(0.2 * sr), np.float32), word])
    assert len(fillets.voice_segments(y2, sr)) == 1


def test_split_is_disjoint_and_seeded():
    names = [f"l{i}" for i in range(11)]
    s = fillets.split_levels(names, seed=1)
    assert set(s["dev"]).isdisjoint(s["test"]) and sorted(s["dev"] + s["test"]) == sorted(names)
    assert s == fillets.split_levels(list(reversed(names)), seed=1)
    assert s != fillets.split_levels(names, seed=2)


def test_overlap_fraction():
    assert fillets.overlap_fraction([(0.0, 2.0, "a"), (1.0, 3.0, "b")]) == pytest.approx(1 / 3, abs=0.01)
    assert fillets.overlap_fraction([(0.0, 1.0, "a"), (1.5, 2.0, "b")]) == 0.0


@needs_data
def test_real_lines_make_a_two_speaker_conversation():
    lv = next(lv for lv in fillets.levels("cs") if lv.name == "barrel")
    lines = [ln for ln in lv.lines if ln.who in ("m", "v")][:6]
    assert {ln.speaker for ln in lines} == {"cs-m", "cs-v"} and all(ln.text for ln in lines)
    conv = fillets.build_conversation(lines, seed=0, uri="barrel", condition="phone")
    assert conv.sr == 16000 and conv.speakers == ["cs-m", "cs-v"]
    assert [ln["speaker"] for ln in conv.lines] == [ln.speaker for ln in lines]
    # the reference is the voice inside each line: never outside the line, the reverberant end cut
    for ln in conv.lines:
        assert ln["voice"] and ln["start"] <= ln["voice"][0][0] and ln["voice"][-1][1] <= ln["end"]
    assert sum(e - s for s, e, _ in conv.turns) < sum(ln["end"] - ln["start"] for ln in conv.lines)
    assert 0.05 <= fillets.overlap_fraction(conv.turns) <= 0.15
    # phone: nothing above the 3.4-kHz band edge (8-kHz sampling)
    spec = np.abs(np.fft.rfft(conv.audio)) ** 2
    freqs = np.fft.rfftfreq(len(conv.audio), 1 / conv.sr)
    assert spec[freqs > 4200].sum() < 1e-3 * spec.sum()


@needs_data
def test_plan_halves_use_disjoint_levels():
    dev = fillets.plan("dev", 4)
    test = fillets.plan("test", 4)
    dev_levels = {ln.level for p in dev for ln in p["lines"]}
    test_levels = {ln.level for p in test for ln in p["lines"]}
    assert dev_levels.isdisjoint(test_levels)
    for p in dev + test:
        assert 2 <= len({ln.speaker for ln in p["lines"]}) <= 4


@needs_data
def test_numbered_ids_are_fish_lines_not_extra_speakers():
    """Set version 2 took the speaker from the id ("rand-3-2" -> "nl-electromagnet-3"), so one
    actor became several reference speakers; the script's addm/addv calls say who speaks."""
    for lang in fillets.LANGS:
        for lv in fillets.levels(lang):
            if lv.name in ("electromagnet", "key", "keys"):
                assert {ln.who for ln in lv.lines} <= {"m", "v"}, (lang, lv.name)
    nl = {ln.speaker for lv in fillets.levels("nl") for ln in lv.lines}
    assert nl == {"nl-m", "nl-v"}
    cs = {ln.speaker for lv in fillets.levels("cs") for ln in lv.lines}
    assert "cs-parrot" in cs and not any(s.startswith("cs-cabin") for s in cs)
