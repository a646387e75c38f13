"""Summaries, sentence chunking, word error rate and the Transcript type (no Whisper needed).

The abstractive path runs a tiny BART with *random weights* built in the test: it checks
routing, chunk limits, map-reduce and determinism, never summary quality.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmtag.errors import MissingDependencyError, ModelNotFoundError, OutputError, XmtagError
from xmtag.speech import Segment, Transcript, Word, chunk_sentences, split_sentences, summarize, wer
from xmtag.speech._summarize import AbstractiveSummarizer, extractive_summary
from xmtag.speech.text import normalize_text

summarize_mod = sys.modules["xmtag.speech._summarize"]

WORDS = (
    "the a cat dog sat on mat river sun hills walked slowly quickly music band played loud soft "
    "song guitar drums bass people danced night long morning came home"
).split()
TINY_MAX_POSITIONS = 64

ARTICLE = (
    "The band played a long concert in the park. The drums were loud and the bass was deep. "
    "People danced to every song until midnight. The weather was warm and dry all evening. "
    "The guitar solo in the last song was the highlight of the concert. "
    "After the concert the band thanked the people for dancing. "
    "Someone lost a red umbrella near the gate. "
    "Most people said the concert and the songs of the band were the best of the summer."
)


# -- a tiny random BART saved to a folder ------------------------------------------------------


@functools.cache
def tiny_bart_folder() -> str:
    """Build and save_pretrained a 1-layer BART with random weights and a word-level tokenizer."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {t: i for i, t in enumerate(specials + sorted({*WORDS, ".", ",", "!", "?"}))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=TINY_MAX_POSITIONS,
    )
    config = BartConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=TINY_MAX_POSITIONS,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
    )
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model = BartForConditionalGeneration(config)
    folder = tempfile.mkdtemp(prefix="xmtag-tiny-bart-")
    fast.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def _long_text(n_sentences: int, seed: int = 0) -> str:
    import random

    rnd = random.Random(seed)
    out = []
    for _ in range(n_sentences):
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(3, 12))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


# -- chunking ----------------------------------------------------------------------------------


@functools.cache
def _tiny_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_bart_folder())


def _count(text: str) -> int:
    return len(_tiny_tokenizer()(text)["input_ids"])


sentence_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(
    lambda ws: " ".join(ws).capitalize() + "."
)


@settings(max_examples=60, deadline=None)
@given(sentences=st.lists(sentence_st, max_size=25), limit=st.integers(3, TINY_MAX_POSITIONS))
def test_chunking_never_exceeds_limit_and_covers_each_sentence_once(sentences, limit):
    chunks = chunk_sentences(sentences, _count, limit)
    for chunk in chunks:
        assert chunk
        assert _count(" ".join(chunk)) <= limit
    flat = [piece for chunk in chunks for piece in chunk]
    fits = all(_count(s) <= limit for s in sentences)
    if fits:  # every sentence exactly once, in order, never split
        assert flat == sentences
    else:  # an over-long sentence is cut into consecutive pieces: every character once, in order
        assert "".join(flat).replace(" ", "") == "".join(sentences).replace(" ", "")


def test_chunking_is_greedy_on_sentence_boundaries():
    count = lambda s: len(s.split()) + 2  # noqa: E731  (two special tokens)
    sentences = ["one two three.", "four five.", "six.", "seven eight nine ten."]
    assert chunk_sentences(sentences, count, 7) == [
        ["one two three.", "four five."],
        ["six.", "seven eight nine ten."],
    ]
    assert chunk_sentences(sentences, count, 6) == [
        ["one two three."],
        ["four five.", "six."],
        ["seven eight nine ten."],
    ]
    with pytest.raises(ValueError, match="no room"):
        chunk_sentences(sentences, count, 2)


def test_split_sentences():
    text = "Mr. Smith went to Washington. He arrived at 5 p.m. on Monday! Did he? Yes.  It was e.g. late."
    assert split_sentences(text) == [
        "Mr. Smith went to Washington.",
        "He arrived at 5 p.m. on Monday!",
        "Did he?",
        "Yes.",
        "It was e.g. late.",
    ]
    assert split_sentences("") == []
    assert split_sentences("no punctuation at all") == ["no punctuation at all"]


# -- word error rate ---------------------------------------------------------------------------


def test_wer():
    assert wer("the cat sat", "the cat sat") == 0.0
    assert wer("The cat, sat!", "the cat sat") == 0.0  # case and punctuation do not count
    assert wer("a b c d", "a x c") == 0.5  # one substitution, one deletion
    assert wer("a b", "a b c d") == 1.0  # two insertions
    assert wer("a b c d", "") == 1.0
    assert wer("", "") == 0.0
    assert normalize_text("Café-au-lait") == ["cafe", "au", "lait"]


# -- extractive --------------------------------------------------------------------------------


def test_extractive_summary_picks_central_sentences_in_order():
    summary = summarize(ARTICLE, max_words=30)
    assert summary == summarize(ARTICLE, max_words=30)  # deterministic
    assert len(summary.split()) <= 30
    sentences = split_sentences(ARTICLE)
    chosen = split_sentences(summary)
    assert chosen and all(s in sentences for s in chosen)
    assert [sentences.index(s) for s in chosen] == sorted(sentences.index(s) for s in chosen)
    assert "umbrella" not in summary  # the off-topic sentence is least central
    assert "concert" in summary


def test_extractive_short_text_and_edge_cases():
    assert summarize("Just one sentence here.", max_words=10) == "Just one sentence here."
    assert summarize("", max_words=10) == ""
    long_sentence = " ".join(["word"] * 50) + "."
    assert len(extractive_summary(long_sentence, max_words=5).split()) == 5
    with pytest.raises(XmtagError, match="summary method must be one of"):
        summarize(ARTICLE, method="magic")
    with pytest.raises(XmtagError, match="max_words"):
        summarize(ARTICLE, max_words=0)


# -- abstractive (random tiny BART: structure only) ----------------------------------------------


def test_abstractive_runs_end_to_end_within_limits(monkeypatch):
    folder = tiny_bart_folder()
    summarizer = AbstractiveSummarizer.load(folder, device="cpu", num_beams=1)
    assert summarizer.limit == TINY_MAX_POSITIONS
    calls = []
    original = summarizer.model.generate

    def spy(**kwargs):
        calls.append((kwargs["input_ids"].shape[1], kwargs["max_new_tokens"]))
        return original(**kwargs)

    monkeypatch.setattr(summarizer.model, "generate", spy)
    text = _long_text(24)
    assert len(summarizer.chunks(text)) > 2  # forces map-reduce
    out = summarizer(text, max_words=20, progress=False)
    assert isinstance(out, str) and len(out.split()) <= 20
    assert len(calls) >= 2  # at least one map level and the final pass
    assert all(n_in <= TINY_MAX_POSITIONS and n_new < TINY_MAX_POSITIONS for n_in, n_new in calls)
    assert summarizer(text, max_words=20, progress=False) == out  # deterministic


def test_abstractive_via_summarize_and_auto(monkeypatch):
    folder = tiny_bart_folder()
    text = _long_text(12, seed=1)
    a = summarize(text, model=folder, max_words=15, progress=False)  # auto -> abstractive
    b = summarize(text, model=folder, method="abstractive", max_words=15, progress=False)
    assert a == b and isinstance(a, str)
    extractive = summarize(text, model=folder, method="extractive", max_words=15)
    assert extractive == extractive_summary(text, 15)


def test_abstractive_without_model_offline_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty Hugging Face cache
    summarize_mod._load_seq2seq.cache_clear()
    with pytest.raises(ModelNotFoundError, match="method='extractive'"):
        summarize(ARTICLE, method="abstractive")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        summarize(ARTICLE, model=str(tmp_path / "no-such-model"))


def test_missing_transformers_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    summarize_mod._load_seq2seq.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r"xmtag\[speech\]"):
            summarize(ARTICLE, model="/some/folder/that/is/not/loaded")
    finally:
        summarize_mod._load_seq2seq.cache_clear()


# -- Transcript type and CLI -------------------------------------------------------------------


def _transcript() -> Transcript:
    words = (Word(0.0, 0.4, " Hello", 0.9), Word(0.5, 1.2, " world.", 0.8))
    return Transcript(
        [Segment(0.0, 1.2, "Hello world.", words), Segment(3601.25, 3605.5, "An hour later.")],
        language="en",
        duration=3606.0,
        model="tiny.en",
        backend="faster-whisper",
    )


def test_transcript_formats_round_trip(tmp_path):
    tr = _transcript()
    assert tr.text == "Hello world. An hour later."
    assert "01:00:01,250 --> 01:00:05,500" in tr.to_srt()
    assert "01:00:01.250 --> 01:00:05.500" in tr.to_vtt()
    assert tr.to_txt() == "Hello world.\nAn hour later.\n"
    assert Transcript.from_json(tr.to_json()) == tr
    assert json.loads(tr.to_json())["segments"][0]["words"][1]["word"] == " world."
    for ext in (".srt", ".vtt", ".json", ".txt"):
        path = tr.save(tmp_path / f"out{ext}")
        assert path.read_text(encoding="utf-8")
        assert not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary files left
    back = Transcript.load(tmp_path / "out.vtt")
    assert [(s.start, s.end, s.text) for s in back] == [(s.start, s.end, s.text) for s in tr]


def test_transcript_errors(tmp_path):
    tr = _transcript()
    with pytest.raises(OutputError, match="unknown extension"):
        tr.save(tmp_path / "out.docx")
    with pytest.raises(OutputError, match="does not exist"):
        tr.save(tmp_path / "missing" / "out.srt")
    with pytest.raises(XmtagError, match="JSON"):
        Transcript.from_json("{not json")
    bad = tmp_path / "bad.srt"
    bad.write_text("this is not a subtitle file")
    with pytest.raises(XmtagError, match="bad.srt"):
        Transcript.load(bad)


def test_cli_summarize(tmp_path, capsys, monkeypatch):
    import io

    from xmtag.cli import main

    src = tmp_path / "article.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    assert main(["summarize", str(src), "--max-words", "30"]) == 0
    assert capsys.readouterr().out.strip() == summarize(ARTICLE, max_words=30)
    out = tmp_path / "summary.txt"
    assert main(["summarize", str(src), "-o", str(out)]) == 0
    assert out.read_text().strip() == summarize(ARTICLE)
    monkeypatch.setattr("sys.stdin", io.StringIO(ARTICLE))
    assert main(["summarize", "-", "--max-words", "30"]) == 0
    assert capsys.readouterr().out.strip() == summarize(ARTICLE, max_words=30)
    js = _transcript().save(tmp_path / "t.json")
    assert main(["summarize", str(js)]) == 0
    # two sentences: the default length (a fifth of the text, at least one sentence) keeps one
    assert capsys.readouterr().out.strip() == summarize("Hello world. An hour later.") == "Hello world."
    assert main(["summarize", str(tmp_path / "missing.txt")]) == 1
    assert "does not exist" in capsys.readouterr().err


# -- a summary follows its input; it never comes back unchanged without saying so (#25) ----------


def test_default_summary_length_follows_the_input(call):
    """A 95-word call came back whole under "Summary:" (the default cap was 150 words)."""
    from xmtag.speech._summarize import default_length

    words = len(call.split())
    assert 80 < words < 100
    summary = summarize(call)
    assert 0 < len(summary.split()) <= default_length(call) < words // 2
    sentences = split_sentences(call)
    picked = split_sentences(summary)
    assert picked and all(s in sentences for s in picked)  # whole sentences of the input
    assert [sentences.index(s) for s in picked] == sorted(sentences.index(s) for s in picked)


def test_a_text_within_max_words_comes_back_whole_and_says_so(caplog, call):
    with caplog.at_level("WARNING", logger="xmtag.speech"):
        out = summarize(call, max_words=500)
    assert out == " ".join(split_sentences(call))
    assert "returned whole, not summarised" in caplog.text


def test_one_flag_name_for_the_summary_length_in_both_commands():
    from xmtag.cli import build_parser

    parser = build_parser()
    for command in (["summarize", "notes.txt"], ["transcribe", "talk.wav", "--summary"]):
        for flag in ("--max-words", "--summary-words"):  # the second is the old name, kept as an alias
            assert parser.parse_args([*command, flag, "40"]).max_words == 40
        assert parser.parse_args(command).max_words is None  # the default follows the text


def test_extractive_summary_leaves_out_repeated_sentences():
    """An ASR loop ("I'm going to do a lot of things." four times, as tiny.en wrote on a real
    20-minute recording) ranks highest under TextRank; the summary keeps it once."""
    from xmtag.speech._summarize import extractive_summary

    loop = "I'm going to do a lot of things. " * 4
    text = (
        loop
        + "The fish must push the steel pipe out of the way. "
        + "The small fish can swim through the narrow gap. "
        + "Things like the pipe are heavy, so the big fish does a lot of the pushing. "
        + "We will meet the parrot in the next room. "
        + "The parrot has seen the lot of things we need to do."
    )
    summary = extractive_summary(text, max_words=30)
    assert summary.count("I'm going to do a lot of things.") <= 1
    assert len(summary.split()) > 16  # the budget went to other sentences, not to the copies
    # near-duplicates (same words but for one) are repeats too
    near = "The pipe is blocking the way out. The pipe is blocking our way out. " * 2 + text
    assert extractive_summary(near, max_words=30).count("blocking") <= 1
