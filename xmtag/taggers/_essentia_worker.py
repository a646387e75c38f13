"""Worker process for :mod:`xmtag.taggers.essentia` (runs essentia-tensorflow, nothing else).

Started as ``python _essentia_worker.py GRAPH CONFIG_JSON`` by the parent; it imports only
the standard library, numpy and essentia, so it can run in another Python environment than
the parent's and never shares a process with Python TensorFlow (the two abort when loaded
together). Messages on stdin/stdout are length-prefixed frames: an 8-byte little-endian
length, then either UTF-8 JSON or an ``.npy`` payload.

Requests: ``{"cmd": "predict"}`` followed by a float32 ``(B, N)`` array; reply
``{"status": "ok"}`` followed by a float32 ``(B, P, n_outputs)`` array, or
``{"status": "error", "message": ...}``. ``{"cmd": "quit"}`` ends the worker.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys

# This file sits next to xmtag/taggers/essentia.py: drop its folder from sys.path so that
# ``import essentia`` finds the real library, not that module.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def _read_frame(fh) -> bytes | None:
    head = fh.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    data = fh.read(n)
    if len(data) < n:
        return None
    return data


def _write_frame(fh, data: bytes) -> None:
    fh.write(struct.pack("<Q", len(data)))
    fh.write(data)
    fh.flush()


def main() -> int:
    # Keep the protocol channel clean: C libraries printing to stdout go to stderr instead.
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    proto_in = sys.stdin.buffer
    graph, config = sys.argv[1], json.loads(sys.argv[2])

    def send_json(obj) -> None:
        _write_frame(proto_out, json.dumps(obj).encode())

    try:
        import essentia
        import numpy as np

        essentia.log.infoActive = False
        essentia.log.warningActive = False
        import essentia.standard as es
    except Exception as exc:
        send_json({"status": "missing", "message": f"{type(exc).__name__}: {exc}"})
        return 1

    try:
        algo = getattr(es, config.get("algorithm", "TensorflowPredictMusiCNN"))(
            graphFilename=graph,
            input=config["input"],
            output=config["output"],
            patchHopSize=int(config["patch_frames"]),
            patchSize=int(config["patch_frames"]),
            lastPatchMode="discard",
            batchSize=int(config.get("batch_size", 64)),
        )
    except Exception as exc:
        send_json({"status": "error", "message": f"cannot load graph {graph}: {exc}"})
        return 1
    send_json({"status": "ready", "essentia": getattr(essentia, "__version__", "?")})

    while True:
        frame = _read_frame(proto_in)
        if frame is None:
            return 0
        request = json.loads(frame)
        if request.get("cmd") == "quit":
            return 0
        payload = _read_frame(proto_in)
        if payload is None:
            return 1
        try:
            batch = np.load(io.BytesIO(payload), allow_pickle=False)
            outs = [
                np.asarray(algo(np.ascontiguousarray(clip, dtype=np.float32)), np.float32) for clip in batch
            ]
            n_patches = min(o.shape[0] for o in outs)
            result = np.stack([o[:n_patches] for o in outs])
        except Exception as exc:
            send_json({"status": "error", "message": f"{type(exc).__name__}: {exc}"})
            continue
        buf = io.BytesIO()
        np.save(buf, result, allow_pickle=False)
        send_json({"status": "ok"})
        _write_frame(proto_out, buf.getvalue())


if __name__ == "__main__":
    sys.exit(main())
