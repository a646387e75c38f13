"""The extractive summary returns its chosen sentences in document order, not in rank order.

The texts put their best-connected sentence (the one that shares words with the most others,
so TextRank ranks it first) at or near the end of the document.
"""

from __future__ import annotations

import pytest

from xmtag.speech import split_sentences, summarize

MEETING = (
    "The committee met on Monday morning. "
    "Rain fell over the harbour all afternoon. "
    "The budget for the new library was discussed at length. "
    "A cat slept on the windowsill. "
    "Several members asked about the library budget and the committee timeline. "
    "Lunch was served late. "
    "In the end the committee approved the library budget, the timeline and the new building plan."
)
GARDEN = (
    "Tomatoes need sun. "
    "The train left at noon. "
    "Peppers, tomatoes and beans grow best in warm soil with sun, water and compost. "
    "Someone lost an umbrella. "
    "Water the beans and peppers in the evening. "
    "Beans climb poles."
)


def _positions(summary: str, text: str) -> list[int]:
    sentences = split_sentences(text)
    picked = split_sentences(summary)
    assert all(s in sentences for s in picked), (summary, sentences)
    return [sentences.index(s) for s in picked]


@pytest.mark.parametrize("method", ["extractive", "auto"])
@pytest.mark.parametrize("max_words", [25, 30, 35, 45])
def test_summary_sentences_keep_document_order(method, max_words):
    """Catches chosen sentences returned in rank order (the late top-ranked one first)."""
    summary = summarize(MEETING, method=method, max_words=max_words)
    pos = _positions(summary, MEETING)
    last = len(split_sentences(MEETING)) - 1
    assert len(pos) >= 2 and last in pos  # the top-ranked last sentence is in, with an earlier one
    assert pos == sorted(pos) and len(set(pos)) == len(pos), summary
    assert len(summary.split()) <= max_words


def test_summary_of_a_text_whose_hub_sentence_is_in_the_middle():
    """Catches rank-order output when the best sentence sits between other chosen ones."""
    summary = summarize(GARDEN, max_words=26)
    pos = _positions(summary, GARDEN)
    assert 2 in pos and min(pos) < 2 < max(pos)  # the top-ranked sentence, chosen ones on both sides
    assert pos == sorted(pos), summary
    assert summary == " ".join(split_sentences(GARDEN)[i] for i in sorted(pos))


def test_summary_exact_for_the_meeting_text():
    """Catches rank order in the exact output: the earlier question comes before the final decision."""
    assert summarize(MEETING, max_words=30) == (
        "Several members asked about the library budget and the committee timeline. "
        "In the end the committee approved the library budget, the timeline and the new building plan."
    )
