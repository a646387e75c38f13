"""The grounding check of summaries (#25): words a summary invents are flagged or dropped, a
faithful paraphrase in the transcript's own words is grounded, and the result says how many
sentences were grounded."""

from __future__ import annotations

import pickle

import pytest

from xmtag.errors import XmtagError
from xmtag.speech import Segment, Summary, Transcript, check_grounding, summarize
from xmtag.speech.grounding import ground

# `call` (conftest.py): the 95-word call of the issue; the LLM wrote "moving the launch deadline
# forward" about it
INVENTED = "The team is moving the launch deadline forward."
PARAPHRASE = "Testing found two bugs in the login screen; they will be fixed by Friday."


class StubGenerator:
    """A stub in place of the language model: it returns a fixed 'summary', whatever the input.

    Not a model and no claim about summary quality: it lets the tests drive summarize(method="llm")
    end to end (routing, grounding, CLI output) without the 98-MB GGUF file.
    """

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.calls: list[tuple[str, int]] = []

    def __call__(self, text: str, max_words: int = 150, progress: bool = True) -> str:
        self.calls.append((text, max_words))
        return self.answer


@pytest.fixture
def stub_llm(monkeypatch):
    from xmtag.speech import llm

    def install(answer: str) -> StubGenerator:
        stub = StubGenerator(answer)
        monkeypatch.setattr(
            llm.LLMSummarizer, "load", classmethod(lambda cls, model=None, device="auto": stub)
        )
        return stub

    return install


def test_an_invented_fact_is_flagged_with_the_words_the_transcript_never_says(call):
    (check,) = check_grounding(INVENTED, call)
    assert not check.grounded
    assert set(check.words) == {"team", "moving", "deadline", "forward"}  # "launch" is in the call
    assert check.numbers == () and check.names == ()


def test_a_faithful_paraphrase_in_the_transcripts_words_is_grounded(call):
    assert all(c.grounded for c in check_grounding(PARAPHRASE, call))
    # inflections are not inventions: updates/update, screenshot/screenshots, tested/testing, reported
    checks = check_grounding("Maria updates the screenshot. Tom reported what was tested.", call)
    assert [c.grounded for c in checks] == [True, True], [c.unsupported for c in checks]
    # nor are the words a summary uses about the transcript itself
    assert check_grounding("The speakers discussed the launch plan.", call)[0].grounded


def test_a_few_words_of_its_own_are_tolerated_but_not_at_tolerance_zero(call):
    # one word the call never says ("remaining") among six content words: a human summary's style
    sentence = "Tom reports two remaining bugs in the login screen."
    (default,) = check_grounding(sentence, call)
    assert default.words == ("remaining",) and default.content == 6 and default.grounded
    (strict,) = check_grounding(sentence, call, tolerance=0.0)
    assert strict.words == ("remaining",) and not strict.grounded
    with pytest.raises(XmtagError, match="tolerance must be in"):
        check_grounding(sentence, call, tolerance=1.0)


def test_numbers_and_names_must_occur_in_the_transcript(call):
    a, b, c = check_grounding("Tom found 2 bugs. Tom found 3 bugs. Tom will send the report to Kevin.", call)
    assert a.grounded  # "two" in the call, "2" in the summary
    assert b.numbers == ("3",) and not b.grounded
    assert c.names == ("Kevin",) and c.words == () and not c.grounded


def test_stemming_follows_the_language():
    source = "Malá ryba plave za velkou rybou."  # Czech: the small fish swims after the big fish
    assert check_grounding("Ryby plavou.", source, language="cs")[0].grounded
    assert not check_grounding("Ryby plavou.", source, language=None)[0].grounded  # exact words only


def test_llm_summary_flags_drops_or_skips_ungrounded_sentences(stub_llm, caplog, call):
    stub = stub_llm(f"{PARAPHRASE} {INVENTED}")
    with caplog.at_level("WARNING", logger="xmtag.speech"):
        flagged = summarize(call, method="llm", max_words=30, progress=False)
    assert stub.calls == [(call, 30)]
    assert isinstance(flagged, Summary) and flagged == f"{PARAPHRASE} {INVENTED}"  # kept, but flagged
    assert (flagged.method, flagged.grounded, flagged.checked) == ("llm", 1, 2)
    assert [c.text for c in flagged.ungrounded] == [INVENTED]
    assert "1 of 2 summary sentences are not grounded" in caplog.text and "deadline" in caplog.text

    dropped = summarize(call, method="llm", max_words=30, grounding="drop", progress=False)
    assert dropped == PARAPHRASE and (dropped.grounded, dropped.checked) == (1, 2)
    assert [c.text for c in dropped.dropped] == [INVENTED]

    off = summarize(call, method="llm", max_words=30, grounding="off", progress=False)
    assert off == f"{PARAPHRASE} {INVENTED}" and off.checked == 0
    with pytest.raises(XmtagError, match="grounding must be one of"):
        summarize(call, method="llm", grounding="strict")


def test_extractive_summaries_are_grounded_and_say_when_they_are_the_whole_input(call):
    s = summarize(call)
    assert s.method == "extractive" and s.checked >= 1 and s.grounded == s.checked and not s.whole
    whole = summarize(call, max_words=500)
    assert whole.whole and whole.grounded == whole.checked == 10


def test_a_transcript_gives_its_language_and_by_speaker_summaries_are_checked(stub_llm):
    segs = [
        Segment(0.0, 2.0, "Malá ryba plave.", speaker="A"),
        Segment(2.0, 4.0, "Velká ryba spí.", speaker="B"),
    ]
    tr = Transcript(segs, language="cs")
    stub_llm("Ryby plavou.")
    out = summarize(tr, method="llm", by_speaker=True, progress=False)
    assert out["A"].grounded == 1  # Czech stemming: ryby ~ ryba, plavou ~ plave
    assert out["B"].grounded == 0 and "plavou" in out["B"].ungrounded[0].words  # B never swam


def test_the_summary_survives_pickling_with_its_fields(call):
    s = ground(f"{PARAPHRASE} {INVENTED}", call, "drop", method="llm")
    back = pickle.loads(pickle.dumps(s))
    assert back == s and (back.grounded, back.checked, back.method) == (1, 2, "llm")
    assert back.dropped[0].words == s.dropped[0].words


def test_cli_prints_how_many_sentences_were_grounded(tmp_path, capsys, stub_llm, call):
    from xmtag.cli import main

    src = tmp_path / "call.txt"
    src.write_text(call, encoding="utf-8")
    stub_llm(f"{PARAPHRASE} {INVENTED}")
    assert main(["summarize", str(src), "--method", "llm", "--max-words", "30"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{PARAPHRASE} {INVENTED}"
    assert "grounding: 1 of 2 sentences grounded in the transcript" in err
    assert f'not grounded: "{INVENTED}"' in err and "deadline" in err
    assert main(["summarize", str(src), "--method", "llm", "--grounding", "drop"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == PARAPHRASE and "(1 ungrounded left out)" in err
