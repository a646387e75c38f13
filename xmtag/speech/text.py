"""Text helpers for the speech paths: sentence splitting, token-aware chunking, word error rate.

Hand-written on purpose (no NLTK/jiwer): sentence splitting must work offline (NLTK's
``punkt`` data is a separate download), and word error rate is a word-level edit distance
of a few lines; keeping both here lets the tests and ``benchmarks/speech.py`` use the
same definitions without another dependency.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

__all__ = [
    "normalize_text",
    "split_sentences",
    "chunk_sentences",
    "truncate_words",
    "STOPWORDS",
    "stem_function",
    "SNOWBALL_LANGUAGES",
]

#: English function words: left out of TF-IDF sentence vectors and of the grounding check.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t don ll m re ve d""".split()
)

#: ISO 639-1 codes (as Whisper reports languages) -> the Snowball stemmer of that language.
SNOWBALL_LANGUAGES = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "et": "estonian", "eu": "basque", "fi": "finnish", "fr": "french",
    "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil", "tr": "turkish",
}  # fmt: skip

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "no", "fig",
    "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "approx", "dept", "est", "mt", "u.s", "a.m", "p.m",
}  # fmt: skip
_SENTENCE_END = re.compile(r"([.!?…]+[\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")


def normalize_text(text: str) -> list[str]:
    """Words for scoring: lower case, accents and punctuation removed, hyphens split.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str

    Examples
    --------
    >>> normalize_text("Hello, World! It's a well-known fact.")
    ['hello', 'world', "it's", 'a', 'well', 'known', 'fact']
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("’", "'").replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at ``. ! ?`` followed by a capital, digit or quote.

    Common abbreviations (``Mr.``, ``e.g.``, ...) and single initials do not end a
    sentence. Whitespace inside a sentence is collapsed to single spaces.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str
        The sentences, in order, stripped.

    Examples
    --------
    >>> split_sentences("Dr. Smith arrived. It was late! Was it? yes.")
    ['Dr. Smith arrived.', 'It was late!', 'Was it? yes.']
    """
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        candidate = text[start : m.end(1)]
        last = candidate.rsplit(" ", 1)[-1].rstrip(".!?…\"'”’)]").lower()
        if m.group(1).startswith(".") and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
            continue
        sentences.append(candidate.strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _split_long(sentence: str, count: Callable[[str], int], limit: int) -> list[str]:
    """Split one sentence that alone exceeds ``limit`` into consecutive word runs that fit."""
    pieces: list[str] = []
    current: list[str] = []
    for word in sentence.split(" "):
        if count(" ".join([*current, word])) <= limit:
            current.append(word)
            continue
        if current:
            pieces.append(" ".join(current))
            current = []
        if count(word) <= limit:
            current = [word]
        else:  # a single "word" longer than the limit: cut by characters
            part = ""
            for ch in word:
                if part and count(part + ch) > limit:
                    pieces.append(part)
                    part = ""
                part += ch
            current = [part] if part else []
    if current:
        pieces.append(" ".join(current))
    return pieces


def chunk_sentences(
    sentences: Sequence[str], count_tokens: Callable[[str], int], max_tokens: int
) -> list[list[str]]:
    """Pack consecutive sentences into chunks whose joined text fits ``max_tokens``.

    Greedy and order-preserving: each chunk is the longest run of the following
    sentences whose ``" ".join`` has at most ``max_tokens`` tokens by ``count_tokens``
    (which should include any special tokens the model adds). A sentence that alone
    exceeds the limit is cut at word boundaries (characters as a last resort) into
    pieces that each fit; the pieces follow each other.

    Parameters
    ----------
    sentences : sequence of str
    count_tokens : callable
        ``count_tokens(text) -> int``, e.g. ``len(tokenizer(text).input_ids)``.
    max_tokens : int
        Upper bound per chunk, at least as many tokens as the model's fixed overhead plus one.

    Returns
    -------
    list of list of str
        Chunks of sentences (or sentence pieces). Every chunk's joined text has at
        most ``max_tokens`` tokens; flattened, the chunks are the input sentences in
        order (an over-long sentence appears as its consecutive pieces).

    Raises
    ------
    ValueError
        If even an empty text does not fit ``max_tokens``.

    Examples
    --------
    >>> count = lambda s: len(s.split())
    >>> chunk_sentences(["a b.", "c d e.", "f.", "g h i j k l."], count, 4)
    [['a b.'], ['c d e.', 'f.'], ['g h i j'], ['k l.']]
    """
    if count_tokens("") >= max_tokens:
        raise ValueError(f"max_tokens={max_tokens} leaves no room for text (overhead {count_tokens('')}).")
    chunks: list[list[str]] = []
    current: list[str] = []
    for sentence in sentences:
        if not sentence:
            continue
        if count_tokens(" ".join([*current, sentence])) <= max_tokens:
            current.append(sentence)
            continue
        if current:
            chunks.append(current)
            current = []
        if count_tokens(sentence) <= max_tokens:
            current = [sentence]
        else:
            pieces = _split_long(sentence, count_tokens, max_tokens)
            chunks.extend([p] for p in pieces[:-1])
            current = [pieces[-1]] if pieces else []
    if current:
        chunks.append(current)
    return chunks


def truncate_words(text: str, max_words: int) -> str:
    """The first ``max_words`` words, cut back to the last whole sentence when one ends inside them."""
    words = text.split()
    if len(words) <= max_words:
        return " ".join(words)
    cut = " ".join(words[:max_words])
    sentences = split_sentences(cut)
    if len(sentences) > 1 and not sentences[-1].endswith((".", "!", "?")):
        return " ".join(sentences[:-1])
    return cut


def stem_function(language: str | None = "en") -> Callable[[str], str]:
    """A memoised word -> stem function: the Snowball stemmer of ``language`` (``snowballstemmer``).

    Light normalisation for comparing words across inflections (``launched``, ``launches`` and
    ``launch`` share the stem ``launch``). ``language`` is an ISO 639-1 code (``"en"``, ``"cs"``,
    ``"nl"``, ...) or a Snowball name (``"czech"``); a language Snowball does not have, or
    ``None``, gives the identity (words then match only exactly, after :func:`normalize_text`).

    Examples
    --------
    >>> stem = stem_function("en")
    >>> stem("launched") == stem("launch") == stem("launches")
    True
    >>> stem_function(None)("launched")
    'launched'
    """
    import functools

    name = SNOWBALL_LANGUAGES.get(str(language).lower(), str(language).lower()) if language else None
    try:
        import snowballstemmer

        stemmer = snowballstemmer.stemmer(name) if name in snowballstemmer.algorithms() else None
    except ImportError:  # pragma: no cover - a core dependency; exact matching without it
        stemmer = None
    if stemmer is None:
        return lambda word: word
    return functools.lru_cache(maxsize=200_000)(stemmer.stemWord)
