"""Reference outputs of the ORIGINAL musicnn code (TensorFlow), for xmtag's fidelity fixture.

Runs ``musicnn.extractor.extractor`` unmodified, so it needs a throwaway environment with
the old stack (the current one cannot run it: Keras 3 removed ``tf.compat.v1.layers`` and
numpy 2 turns every tag into NaN)::

    python3.11 -m venv /tmp/tfref
    /tmp/tfref/bin/pip install tensorflow-cpu==2.15.1 numpy==1.26.4 librosa==0.11.0
    /tmp/tfref/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tfref/bin/python benchmarks/tools/musicnn_reference.py tests/data/musicnn/clip.wav \
        --out tests/data/musicnn/reference.npz

Writes one ``(P, 50)`` taggram per model (keys ``MSD_musicnn``, ``MTT_musicnn``,
``MSD_vgg``, ``MTT_vgg``), the SHA-256 of every inference variable as TensorFlow's own
checkpoint reader returns it (``tensor_sha256``, JSON), the SHA-256 of librosa's mel
filterbank (``librosa_mel_sha256``) and the library versions used. With ``--time N`` it instead
prints the reference's wall-clock and CPU milliseconds per patch (best of N runs of the
session on a batch of patches; used by ``benchmarks/tagger_speed.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MODELS = ["MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"]


def taggrams(path: str, models: list[str]) -> dict:
    import numpy as np
    from musicnn.extractor import extractor

    out = {}
    for m in models:
        with contextlib.redirect_stdout(io.StringIO()):
            taggram, _labels = extractor(path, model=m, input_length=3, extract_features=False)
        out[m] = np.asarray(taggram, dtype=np.float32)
    return out


def tensor_hashes(models: list[str]) -> dict:
    """SHA-256 of every inference variable as TensorFlow reads it (to check xmtag's numpy reader)."""
    import hashlib

    import numpy as np
    import tensorflow as tf
    from musicnn import models as musicnn_models

    out = {}
    for m in models:
        # load_checkpoint(dir) trips over the shipped "checkpoint" file; open the prefix "<dir>/"
        reader = tf.compat.v1.train.NewCheckpointReader(
            os.path.dirname(musicnn_models.__file__) + "/" + m + "/"
        )
        for name in sorted(reader.get_variable_to_shape_map()):
            if "Adam" not in name and "power" not in name:
                a = np.ascontiguousarray(reader.get_tensor(name))
                out[f"{m}/{name}"] = hashlib.sha256(a.tobytes()).hexdigest()
    return out


def time_reference(model: str, n_patches: int, repeats: int, threads: int | None) -> tuple[float, float]:
    """Best-of-``repeats`` wall and CPU (all threads) ms per patch of the original graph."""
    import numpy as np
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.compat.v1.disable_eager_execution()
    from musicnn import models

    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y = models.define_model(x, is_training, model, 50)[0]
        y = tf.nn.sigmoid(y)
    sess = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(sess, os.path.dirname(models.__file__) + "/" + model + "/")
    batch = np.random.default_rng(0).uniform(0, 3, (n_patches, 187, 96)).astype(np.float32)
    sess.run(y, {x: batch[:1], is_training: False})  # warm-up
    best = best_cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        sess.run(y, {x: batch, is_training: False})
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return 1000.0 * best / n_patches, 1000.0 * best_cpu / n_patches


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audio", nargs="?", help="audio file (16 kHz mono wav recommended)")
    ap.add_argument("--out", help="output .npz")
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--time", type=int, default=0, metavar="REPEATS", help="time the reference instead")
    ap.add_argument("--patches", type=int, default=16, help="patches per timed run")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--model", default="MSD_musicnn", help="model to time")
    args = ap.parse_args()
    if args.time:
        ms, cpu_ms = time_reference(args.model, args.patches, args.time, args.threads or None)
        print(
            json.dumps(
                {"model": args.model, "ms_per_patch": ms, "cpu_ms_per_patch": cpu_ms, "patches": args.patches}
            )
        )
        return 0
    if not args.audio or not args.out:
        ap.error("audio and --out are required unless --time is given")
    import librosa
    import numpy as np
    import tensorflow as tf

    res = taggrams(args.audio, args.models)
    res["tensor_sha256"] = json.dumps(tensor_hashes(args.models))
    fb = librosa.filters.mel(sr=16000, n_fft=512, n_mels=96)
    res["librosa_mel_sha256"] = hashlib.sha256(np.ascontiguousarray(fb).tobytes()).hexdigest()
    meta = {"tensorflow": tf.__version__, "numpy": np.__version__, "librosa": librosa.__version__}
    np.savez_compressed(args.out, **res, versions=json.dumps(meta))
    shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in res.items() if k in args.models)
    print(f"wrote {args.out}: {shapes}", meta, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
