"""Summaries of transcripts: extractive TextRank (offline, no model) or abstractive seq2seq.

Extractive (the default): sentences become TF-IDF vectors, a similarity graph over them is
ranked with PageRank (TextRank / LexRank), and the best-ranked sentences are returned in
their original order up to a word budget. It needs no weights and no data downloads
(``sumy``'s tokenizers need NLTK's ``punkt`` data, which is a separate download), and it
is deterministic.

Abstractive: a ``transformers`` sequence-to-sequence model (BART family, e.g.
``facebook/bart-large-cnn``) summarises chunks of whole sentences that fit its input
positions, then summarises the concatenated chunk summaries, until the text fits one
pass (map-reduce). Greedy/beam decoding without sampling, so it is deterministic.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelNotFoundError, XmtagError, require
from .text import chunk_sentences, normalize_text, split_sentences

__all__ = ["summarize", "extractive_summary", "AbstractiveSummarizer", "DEFAULT_ABSTRACTIVE_MODEL"]

logger = logging.getLogger(__name__)

#: the hub model used by ``method="abstractive"`` when no model is given
DEFAULT_ABSTRACTIVE_MODEL = "facebook/bart-large-cnn"
METHODS = ("auto", "extractive", "abstractive")

_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t don ll m re ve d""".split()
)


def summarize(
    text: str,
    model: str | os.PathLike[str] | None = None,
    method: str = "auto",
    max_words: int = 150,
    *,
    device: str = "auto",
    num_beams: int = 4,
    progress: bool = True,
) -> str:
    """Summarise a text (e.g. ``Transcript.text``).

    Parameters
    ----------
    text : str
        The text; sentence punctuation helps (Whisper provides it).
    model : str or os.PathLike, optional
        A ``transformers`` seq2seq model: a local folder (``save_pretrained`` output) or,
        online, a hub name. Giving one selects the abstractive method under ``"auto"``.
    method : {"auto", "extractive", "abstractive"}
        ``"auto"``: abstractive when ``model`` is given, else extractive.
        ``"abstractive"`` without ``model`` uses :data:`DEFAULT_ABSTRACTIVE_MODEL` from the
        local Hugging Face cache or the hub.
    max_words : int
        Upper bound on the summary length in words.
    device : str
        torch device for the abstractive model (``"auto"``: CUDA when available).
    num_beams : int
        Beam width of the abstractive decoder.
    progress : bool
        Progress bar over chunks (abstractive).

    Returns
    -------
    str
        The summary; text that already has at most ``max_words`` words comes back as is
        (whitespace normalised) from the extractive method.

    Raises
    ------
    XmtagError
        For an unknown method or a non-positive ``max_words``.
    ModelNotFoundError
        ``method="abstractive"`` with no model available (offline and not cached).
    MissingDependencyError
        ``transformers`` is not installed (abstractive).

    Examples
    --------
    >>> text = ("Cats sleep a lot. Cats also play with toys and chase mice. "
    ...         "The weather was nice. Cats and mice and toys fill the day of cats.")
    >>> summarize(text, max_words=14)
    'Cats sleep a lot. Cats and mice and toys fill the day of cats.'
    """
    if method not in METHODS:
        raise XmtagError(f"Unknown summary method {method!r}. Choose one of: {', '.join(METHODS)}.")
    if int(max_words) < 1:
        raise XmtagError(f"max_words must be at least 1, got {max_words}.")
    if not isinstance(text, str):
        raise XmtagError(f"summarize() needs a str, got {type(text).__name__}.")
    if method == "auto":
        method = "abstractive" if model is not None else "extractive"
    if method == "extractive":
        if model is not None:
            logger.warning("method='extractive' ignores model=%r.", model)
        return extractive_summary(text, max_words)
    summarizer = AbstractiveSummarizer.load(model, device=device, num_beams=num_beams)
    return summarizer(text, max_words=max_words, progress=progress)


# -- extractive ---------------------------------------------------------------------------------


def _tfidf(sentences: list[str]) -> np.ndarray:
    docs = [[w for w in normalize_text(s) if w not in _STOPWORDS] for s in sentences]
    vocab = {w: i for i, w in enumerate(sorted({w for d in docs for w in d}))}
    x = np.zeros((len(docs), max(1, len(vocab))))
    for i, d in enumerate(docs):
        for w, c in Counter(d).items():
            x[i, vocab[w]] = c / len(d)
    df = (x > 0).sum(axis=0)
    x *= np.log((1 + len(docs)) / (1 + df)) + 1.0
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _pagerank(sim: np.ndarray, damping: float = 0.85, tol: float = 1e-10, max_iter: int = 200) -> np.ndarray:
    n = sim.shape[0]
    out = sim.sum(axis=1, keepdims=True)
    # sentences with no similar sentence spread their rank uniformly
    trans = np.where(out > 0, np.divide(sim, out, out=np.zeros_like(sim), where=out > 0), 1.0 / n)
    r = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        nxt = (1 - damping) / n + damping * (trans.T @ r)
        if np.abs(nxt - r).sum() < tol:
            return nxt
        r = nxt
    return r


def extractive_summary(text: str, max_words: int = 150) -> str:
    """TextRank over TF-IDF sentence vectors; the top sentences in document order.

    Sentences are added in rank order (ties: earlier first) while the word budget
    allows; if even the best sentence is longer than ``max_words`` it is cut to
    ``max_words`` words.

    Parameters
    ----------
    text : str
        The text to summarize.
    max_words : int
        Word budget of the summary.

    Returns
    -------
    str

    Examples
    --------
    >>> extractive_summary("One. Two words. Three more words.", max_words=10)
    'One. Two words. Three more words.'
    """
    sentences = split_sentences(text)
    n_words = [len(s.split()) for s in sentences]
    if sum(n_words) <= max_words:
        return " ".join(sentences)
    x = _tfidf(sentences)
    sim = x @ x.T
    np.fill_diagonal(sim, 0.0)
    scores = _pagerank(sim)
    order = sorted(range(len(sentences)), key=lambda i: (-round(float(scores[i]), 12), i))
    chosen: list[int] = []
    budget = max_words
    for i in order:
        if n_words[i] <= budget:
            chosen.append(i)
            budget -= n_words[i]
        if budget == 0:
            break
    if not chosen:
        return " ".join(sentences[order[0]].split()[:max_words])
    return " ".join(sentences[i] for i in sorted(chosen))


# -- abstractive --------------------------------------------------------------------------------


def _truncate_words(text: str, max_words: int) -> str:
    words = text.split()
    if len(words) <= max_words:
        return " ".join(words)
    cut = " ".join(words[:max_words])
    sentences = split_sentences(cut)
    if len(sentences) > 1 and not sentences[-1].endswith((".", "!", "?")):
        return " ".join(sentences[:-1])
    return cut


class AbstractiveSummarizer:
    """A seq2seq model and tokenizer with the chunking and map-reduce of :func:`summarize`.

    Parameters
    ----------
    model, tokenizer
        A ``transformers`` ``AutoModelForSeq2SeqLM`` and its tokenizer.
    num_beams : int
        Beam width (no sampling: deterministic).
    batch_size : int
        Chunks generated together.
    max_input_tokens : int, optional
        Lower the input limit below the model's positions.

    Attributes
    ----------
    limit : int
        Tokens per input chunk, special tokens included: the smaller of the model's
        position embeddings, the tokenizer's ``model_max_length`` and ``max_input_tokens``.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        num_beams: int = 4,
        batch_size: int = 4,
        max_input_tokens: int | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.num_beams = int(num_beams)
        self.batch_size = int(batch_size)
        limits = [
            getattr(model.config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
            max_input_tokens,
        ]
        usable = [int(x) for x in limits if x is not None and 0 < int(x) < 1_000_000]
        self.limit = min(usable) if usable else 512
        self.name = getattr(model.config, "_name_or_path", "") or type(model).__name__

    @classmethod
    def load(
        cls, model: str | os.PathLike[str] | None = None, device: str = "auto", num_beams: int = 4
    ) -> AbstractiveSummarizer:
        """Load a model folder or hub name (kept in memory for the next call).

        Raises
        ------
        ModelNotFoundError
            If the model is neither a folder, in the local Hugging Face cache, nor downloadable.
        """
        name = os.fspath(model) if model is not None else DEFAULT_ABSTRACTIVE_MODEL
        hf_model, tokenizer = _load_seq2seq(name, device)
        return cls(hf_model, tokenizer, num_beams=num_beams)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as the model sees it (special tokens included)."""
        return len(self.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    def chunks(self, text: str) -> list[str]:
        """``text`` cut on sentence boundaries into pieces of at most :attr:`limit` tokens."""
        return [" ".join(c) for c in chunk_sentences(split_sentences(text), self.count_tokens, self.limit)]

    def generate(self, texts: list[str], max_new_tokens: int, progress: bool = False) -> list[str]:
        """Summarise each text (each must fit :attr:`limit`) in batches."""
        import torch
        from tqdm.auto import tqdm

        device = next(self.model.parameters()).device
        out: list[str] = []
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="summarize", unit="batch", disable=not progress, leave=False):
            batch = texts[start : start + self.batch_size]
            enc = self.tokenizer(
                batch, return_tensors="pt", padding=True, truncation=True, max_length=self.limit
            )
            enc = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                ids = self.model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    num_beams=self.num_beams,
                    do_sample=False,
                )
            out.extend(t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True))
        return out

    def __call__(self, text: str, max_words: int = 150, progress: bool = True, max_rounds: int = 8) -> str:
        """Map-reduce summary of ``text`` with at most ``max_words`` words.

        Raises
        ------
        XmtagError
            If the summaries stop getting shorter (a model that does not summarise).
        """
        decoder_limit = max(2, self.limit - 1)
        final_tokens = min(decoder_limit, max(8, math.ceil(max_words * 1.6) + 4))
        map_tokens = min(decoder_limit, max(8, self.limit // 4))
        current = " ".join(text.split())
        if not current:
            return ""
        for level in range(max_rounds):
            pieces = self.chunks(current)
            if len(pieces) == 1:
                logger.info("summarize: final pass (level %d)", level)
                return _truncate_words(self.generate(pieces, final_tokens)[0], max_words)
            logger.info("summarize: level %d, %d chunks of <= %d tokens", level, len(pieces), self.limit)
            joined = " ".join(self.generate(pieces, map_tokens, progress=progress))
            if self.count_tokens(joined) >= self.count_tokens(current) or not joined.strip():
                raise XmtagError(
                    f"The summaries of model {self.name!r} are not shorter than their input; "
                    "use a summarisation model (e.g. facebook/bart-large-cnn) or method='extractive'."
                )
            current = joined
        raise XmtagError(f"Text still too long after {max_rounds} rounds of summarisation; raise max_rounds.")


def _torch_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub's host answers on port 443 (avoids a minute of download retries offline)."""
    import socket
    import urllib.parse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urllib.parse.urlparse(endpoint).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


@functools.lru_cache(maxsize=2)
def _load_seq2seq(name: str, device: str) -> tuple[Any, Any]:
    transformers = require("transformers", "speech", "abstractive summaries")
    path = Path(name).expanduser()
    is_path = path.exists() or path.is_absolute() or name.startswith((".", "~"))
    if is_path and not path.is_dir():
        raise ModelNotFoundError(
            f"Summarisation model folder {name!r} does not exist. Give a folder written by "
            "save_pretrained, or a Hugging Face hub name when online."
        )
    attempts = [{"local_files_only": True}]
    if not is_path and os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "", "false", "False"):
        if _hub_reachable():
            attempts.append({})
        else:
            logger.info("The Hugging Face hub is not reachable; not trying to download %s.", name)
    error: Exception | None = None
    for kwargs in attempts:
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path) if is_path else name, **kwargs)
            model = transformers.AutoModelForSeq2SeqLM.from_pretrained(
                str(path) if is_path else name, **kwargs
            )
            return model.to(_torch_device(device)).eval(), tokenizer
        except (OSError, ValueError, KeyError) as exc:
            error = exc
            logger.debug("loading %s with %s failed: %s", name, kwargs, exc)
    raise ModelNotFoundError(
        f"No summarisation model {name!r} is available: "
        + (
            f"the folder could not be loaded ({type(error).__name__}: {error}). "
            if is_path
            else "it is neither in the local Hugging Face cache nor downloadable now. "
        )
        + "Abstractive summaries need a seq2seq model such as facebook/bart-large-cnn: on a machine with "
        "internet run `huggingface-cli download facebook/bart-large-cnn` (or save_pretrained it to a "
        "folder) and pass model=<folder>; or use method='extractive', which needs no model."
    ) from error
