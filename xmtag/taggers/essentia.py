"""Essentia model-zoo taggers (frozen TensorFlow graphs) run in a separate worker process.

``load_tagger("path/model.pb")`` reads the model-zoo JSON metadata beside the graph
(``model.json``: ``classes``, ``schema.inputs[0].name``, the output whose
``output_purpose`` is ``"predictions"`` (else the first), ``inference.sample_rate``
and ``inference.algorithm``) and runs the graph with essentia-tensorflow
(``pip install 'xmtag[essentia]'``, i.e. ``pip install --pre essentia-tensorflow``)
in a child process that imports only numpy and essentia:

* essentia bundles its own TensorFlow, and loading it next to Python TensorFlow
  in one process aborts (``Op with name Bitcast already registered``);
* it keeps the AGPL-licensed library at arm's length from the caller's process;
* the worker may run in another environment: set ``python=`` or
  ``$XMTAG_ESSENTIA_PYTHON`` to that environment's interpreter.

Supported inference algorithm: ``TensorflowPredictMusiCNN`` (musicnn-style graphs:
Essentia computes its own 96-band mel input, patches of 187 frames of 256 samples at
16 kHz, so ``patch_length = 47872``). Patches do not overlap (``patchHopSize = 187``),
the clip output is the mean over patches, and ``P = N // 47872`` as for every xmtag
tagger.

Examples
--------
>>> t = load_essentia_tagger("msd-musicnn-1.pb")  # doctest: +SKIP
>>> t.labels[:3]  # doctest: +SKIP
['rock', 'pop', 'alternative']
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, ModelNotFoundError, TaggerError
from .base import SampleRateAlias, check_batch, check_output, split_patches

__all__ = ["EssentiaTagger", "load_essentia_tagger", "read_metadata"]

logger = logging.getLogger(__name__)

_WORKER = Path(__file__).with_name("_essentia_worker.py")
#: inference algorithm -> (frames per patch, hop in samples)
_ALGORITHMS = {"TensorflowPredictMusiCNN": (187, 256)}


def read_metadata(graph: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the model-zoo JSON beside ``graph`` (same name, ``.json``).

    Parameters
    ----------
    graph : str or os.PathLike
        The ``.pb`` file.

    Returns
    -------
    dict
        ``labels``, ``input``, ``output``, ``sample_rate``, ``algorithm``, ``name``.

    Raises
    ------
    ModelNotFoundError
        If the graph or its JSON is missing.
    TaggerError
        If the JSON lacks a field or names an unsupported algorithm.
    """
    graph = Path(graph)
    if not graph.is_file():
        raise ModelNotFoundError(f"Essentia graph {graph} does not exist.")
    meta_path = graph.with_suffix(".json")
    if not meta_path.is_file():
        raise ModelNotFoundError(
            f"{graph}: its metadata {meta_path.name} is missing. Download the JSON that the Essentia "
            "model zoo publishes next to each .pb and put it beside the graph."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        classes = [str(c) for c in meta["classes"]]
        schema = meta["schema"]
        inp = schema["inputs"][0]["name"]
        outputs = schema["outputs"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TaggerError(
            f"{meta_path}: not Essentia model-zoo metadata (needs 'classes' and 'schema' with inputs and "
            f"outputs): {type(exc).__name__}: {exc}"
        ) from exc
    preds = [o for o in outputs if o.get("output_purpose") == "predictions"] or outputs
    inference = meta.get("inference") or {}
    algorithm = inference.get("algorithm", "TensorflowPredictMusiCNN")
    if algorithm not in _ALGORITHMS:
        raise TaggerError(
            f"{meta_path}: inference algorithm {algorithm!r} is not supported; xmtag runs "
            f"{', '.join(_ALGORITHMS)} graphs."
        )
    return {
        "labels": classes,
        "input": inp,
        "output": preds[0]["name"],
        "sample_rate": int(inference.get("sample_rate", meta.get("sample_rate", 16000))),
        "algorithm": algorithm,
        "name": meta.get("name", graph.stem),
    }


def _frame(data: bytes) -> bytes:
    return struct.pack("<Q", len(data)) + data


class EssentiaTagger(SampleRateAlias):
    """A tagger backed by an Essentia model-zoo graph, evaluated in a worker process.

    Parameters
    ----------
    graph : str or os.PathLike
        The frozen ``.pb`` graph; its ``.json`` metadata must lie beside it.
    python : str, optional
        Interpreter that has essentia-tensorflow installed; default
        ``$XMTAG_ESSENTIA_PYTHON`` or the current interpreter.
    batch_size : int
        Patches per TensorFlow session run inside essentia.

    Notes
    -----
    The worker starts on first use and stops with :meth:`close` (also on garbage
    collection and at interpreter exit). Use the tagger as a context manager to
    stop it deterministically.
    """

    def __init__(
        self, graph: str | os.PathLike[str], *, python: str | None = None, batch_size: int = 64
    ) -> None:
        self.graph = Path(graph)
        meta = read_metadata(self.graph)
        self.labels: list[str] = meta["labels"]
        self.sample_rate: int = meta["sample_rate"]
        frames, hop = _ALGORITHMS[meta["algorithm"]]
        self.patch_length: int | None = frames * hop
        #: centred frames: a patch's first frame also sees the ``hop`` samples before it
        self.patch_context: int = hop
        self.name = f"essentia:{self.graph.stem}"
        self.python = python or os.environ.get("XMTAG_ESSENTIA_PYTHON") or sys.executable
        self._config = {
            "algorithm": meta["algorithm"],
            "input": meta["input"],
            "output": meta["output"],
            "patch_frames": frames,
            "batch_size": int(batch_size),
        }
        self._proc: subprocess.Popen | None = None
        self._stderr: Any = None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize | None = None

    def __repr__(self) -> str:
        return f"EssentiaTagger({str(self.graph)!r}, python={self.python!r})"

    def __enter__(self) -> EssentiaTagger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ worker
    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return text.strip()[-1500:]

    def _read(self) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        head = self._proc.stdout.read(8)
        if len(head) < 8:
            raise self._died()
        (n,) = struct.unpack("<Q", head)
        data = self._proc.stdout.read(n)
        if len(data) < n:
            raise self._died()
        return data

    def _died(self) -> TaggerError:
        code = self._proc.wait(timeout=10) if self._proc is not None else None
        tail = self._stderr_tail()
        self._shutdown()
        return TaggerError(
            f"The essentia worker for {self.graph} stopped unexpectedly (exit code {code}). "
            f"Its last output:\n{tail}"
        )

    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        cmd = [self.python, str(_WORKER), str(self.graph), json.dumps(self._config)]
        logger.debug("starting essentia worker: %s", cmd)
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, close_fds=True
            )
        except OSError as exc:
            raise MissingDependencyError(
                f"Cannot start the essentia worker with {self.python!r} ({exc}). Install essentia-tensorflow "
                "(pip install 'xmtag[essentia]') or point $XMTAG_ESSENTIA_PYTHON at a Python that has it."
            ) from exc
        self._finalizer = weakref.finalize(self, _terminate, self._proc, self._stderr)
        reply = json.loads(self._read())
        if reply.get("status") == "missing":
            self._shutdown()
            raise MissingDependencyError(
                f"essentia-tensorflow is not importable by {self.python} ({reply.get('message')}). "
                "Install it with: pip install 'xmtag[essentia]' (pip install --pre essentia-tensorflow), "
                "or set $XMTAG_ESSENTIA_PYTHON to a Python environment that has it."
            )
        if reply.get("status") != "ready":
            self._shutdown()
            raise TaggerError(f"The essentia worker could not load {self.graph}: {reply.get('message')}")
        logger.info("essentia worker ready (essentia %s) for %s", reply.get("essentia"), self.graph)

    def _shutdown(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._proc = None
        self._stderr = None
        self._finalizer = None

    def close(self) -> None:
        """Stop the worker process (a later prediction starts a new one)."""
        with self._lock:
            self._shutdown()

    # ------------------------------------------------------------------ tagger protocol
    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        """Per-patch outputs ``(B, P, n_tags)`` of ``(B, N)`` mono clips at ``sample_rate``."""
        y = check_batch(batch)
        b, n = y.shape
        if n < self.patch_length:
            y = split_patches(y, self.patch_length).reshape(b, self.patch_length)
        p = y.shape[1] // self.patch_length
        # Essentia frames the clip itself (centred frames, like librosa): given exactly P whole
        # patches it yields P patches, and the dropped remainder cannot leak into them.
        y = np.ascontiguousarray(y[:, : p * self.patch_length])
        buf = io.BytesIO()
        np.save(buf, y, allow_pickle=False)
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(
                    _frame(json.dumps({"cmd": "predict"}).encode()) + _frame(buf.getvalue())
                )
                self._proc.stdin.flush()
            except BrokenPipeError:
                raise self._died() from None
            reply = json.loads(self._read())
            if reply.get("status") != "ok":
                raise TaggerError(f"essentia failed on this batch ({self.graph}): {reply.get('message')}")
            out = np.load(io.BytesIO(self._read()), allow_pickle=False)
        if out.ndim == 3 and out.shape[1] > p:
            out = out[:, :p]
        return check_output(out, (b, p, len(self.labels)), f"essentia graph {self.graph.name}")

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Clip-level outputs ``(B, n_tags)``: the mean of :meth:`predict_patches`."""
        return self.predict_patches(batch).mean(axis=1)


def _terminate(proc: subprocess.Popen, stderr: Any) -> None:
    try:
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(_frame(json.dumps({"cmd": "quit"}).encode()))
                proc.stdin.close()
                proc.wait(timeout=5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=5)
    finally:
        for fh in (proc.stdout, proc.stdin, stderr):
            try:
                if fh is not None:
                    fh.close()
            except OSError:
                pass


def load_essentia_tagger(graph: str | os.PathLike[str], **kwargs: Any) -> EssentiaTagger:
    """Same as ``EssentiaTagger(graph, **kwargs)``.

    Parameters
    ----------
    graph : str or os.PathLike
        The frozen ``.pb`` graph, with its ``.json`` metadata beside it.
    **kwargs
        ``python=``, ``batch_size=`` (see :class:`EssentiaTagger`).

    Returns
    -------
    EssentiaTagger
    """
    return EssentiaTagger(graph, **kwargs)
