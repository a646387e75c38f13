"""Freeze the packaged MSD musicnn checkpoint into an Essentia-style graph (+ JSON metadata).

The Essentia model zoo distributes musicnn as a frozen TensorFlow graph with input
``model/Placeholder`` ``[batch, 187, 96]`` and output ``model/Sigmoid``, plus a JSON file
describing it. The zoo's download URLs are unreachable offline, so xmtag's Essentia
backend is tested with a graph frozen here from the very same weights the ``musicnn``
package ships (the original ``musicnn.models`` code builds it). Run it in the throwaway
TensorFlow environment described in ``musicnn_reference.py``::

    /tmp/tfref/bin/python benchmarks/tools/freeze_musicnn_graph.py tests/data/musicnn/msd-musicnn.pb

It writes ``msd-musicnn.pb`` (about 3.2 MB) and ``msd-musicnn.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def freeze(out: str, model: str = "MSD_musicnn") -> None:
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    from musicnn import configuration as config
    from musicnn import models

    labels = config.MSD_LABELS if model.startswith("MSD") else config.MTT_LABELS
    graph = tf.Graph()
    with graph.as_default():
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96], name="Placeholder")
            logits = models.define_model(x, False, model, len(labels))[0]
            y = tf.nn.sigmoid(logits, name="Sigmoid")
        assert x.op.name == "model/Placeholder" and y.op.name == "model/Sigmoid", (x.op.name, y.op.name)
        sess = tf.compat.v1.Session(graph=graph)
        tf.compat.v1.train.Saver().restore(sess, os.path.dirname(models.__file__) + "/" + model + "/")
        frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), ["model/Sigmoid"]
        )
        frozen = tf.compat.v1.graph_util.remove_training_nodes(frozen)
    with open(out, "wb") as fh:
        fh.write(frozen.SerializeToString())
    meta = {
        "name": f"{model} (frozen by xmtag from the musicnn 0.1.0 package)",
        "type": "auto-tagging",
        "version": "1",
        "description": "musicnn tagger, weights of the musicnn PyPI package, frozen for Essentia",
        "framework": "tensorflow",
        "framework_version": tf.__version__,
        "classes": list(labels),
        "model_types": ["frozen_model"],
        "schema": {
            "inputs": [{"name": "model/Placeholder", "type": "float", "shape": [187, 96]}],
            "outputs": [
                {
                    "name": "model/Sigmoid",
                    "type": "float",
                    "shape": [1, len(labels)],
                    "op": "Sigmoid",
                    "output_purpose": "predictions",
                }
            ],
        },
        "inference": {"sample_rate": 16000, "algorithm": "TensorflowPredictMusiCNN"},
        "license": "ISC (musicnn)",
    }
    with open(os.path.splitext(out)[0] + ".json", "w") as fh:
        json.dump(meta, fh, indent=2)
    print(f"wrote {out} ({os.path.getsize(out)} bytes) and its .json", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output .pb path")
    ap.add_argument("--model", default="MSD_musicnn", choices=["MSD_musicnn", "MTT_musicnn"])
    args = ap.parse_args()
    freeze(args.out, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
