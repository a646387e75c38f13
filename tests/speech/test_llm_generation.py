"""The generation settings of summarize(method="llm") (#25): greedy decoding on one torch thread,
and token budgets that follow the words each call asks for. A recording stand-in replaces the
model (no GGUF is loaded), so these tests check what the summarizer asks for, not summary quality."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from xmtag.speech.llm import GENERATION, LLMSummarizer, new_tokens  # noqa: E402


class RecordingModel:
    """Stands in for a causal LM: records each ``generate`` call and the torch threads it ran with."""

    def __init__(self, answer_tokens: int = 3) -> None:
        self.calls: list[dict] = []
        self.answer_tokens = answer_tokens

    def parameters(self):
        yield torch.zeros(1)

    def generate(self, input_ids, **kwargs):
        self.calls.append({"threads": torch.get_num_threads(), "prompt": input_ids.shape[1], **kwargs})
        new = torch.ones((1, self.answer_tokens), dtype=input_ids.dtype)
        return torch.cat([input_ids, new], dim=1)


class WordTokenizer:
    """One token per word; the chat template adds two."""

    eos_token_id = 0

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [1] * len(text.split())}

    def apply_chat_template(self, messages, add_generation_prompt, return_tensors, return_dict):
        n = len(messages[0]["content"].split()) + 2
        return {"input_ids": torch.zeros((1, n), dtype=torch.long)}

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(["Fish swim."] * int(ids.shape[0]))


TEXT = " ".join(f"The small fish number {i} swims past the big steel cannon slowly." for i in range(12))


def test_generation_is_greedy_on_one_thread_and_the_thread_setting_comes_back():
    model = RecordingModel()
    before = torch.get_num_threads()
    out = LLMSummarizer(model, WordTokenizer())(TEXT, max_words=40, progress=False)
    assert out == "Fish swim. Fish swim. Fish swim."
    (call,) = model.calls  # 132 words fit one chunk: one call
    assert call["threads"] == 1 and torch.get_num_threads() == before
    assert call["do_sample"] is False and call["repetition_penalty"] == GENERATION["repetition_penalty"]
    assert call["max_new_tokens"] == new_tokens(40) == 68

    model = RecordingModel()
    LLMSummarizer(model, WordTokenizer(), threads=None)(TEXT, max_words=40, progress=False)
    assert model.calls[0]["threads"] == before  # None: torch's own setting


def test_each_chunk_gets_the_tokens_of_the_words_its_prompt_asks_for():
    model = RecordingModel()
    summarizer = LLMSummarizer(model, WordTokenizer(), chunk_tokens=60)
    out = summarizer(TEXT, max_words=100, progress=False)
    *parts, final = model.calls
    assert len(parts) == 3  # 12 sentences of 11 words, 5 per 60-token chunk
    assert all(c["max_new_tokens"] == new_tokens(50) == 83 for c in parts)
    assert final["max_new_tokens"] == new_tokens(100) == 158
    assert all(c["threads"] == 1 for c in model.calls)
    assert len(out.split()) <= 100
