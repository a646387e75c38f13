"""Hugging Face ``transformers`` audio classifiers as taggers: ``load_tagger("hf:<folder or id>")``.

Loads ``AutoFeatureExtractor`` + ``AutoModelForAudioClassification`` (AST, wav2vec 2.0, HuBERT,
Whisper, BEATs-style classifiers, ...) from a local folder (offline, e.g. one saved with
``save_pretrained`` or downloaded with ``huggingface-cli download``) or from the Hub by id
(online, through the usual Hugging Face cache). Needs the ``[hf]`` extra (``transformers``).

Windowing: the clip is cut into windows of the model's input length and each window is scored
on its own; the clip's output is the mean over windows, so the tagger is patch-decomposable and
exact stem x time attributions apply (:mod:`xmtag.coalitions`). The window length comes from the
feature extractor: ``n_samples`` (Whisper-style), else ``max_length`` frames of 10 ms
(AST-style filter banks), else ``window_seconds`` (required for models without a fixed input
length, such as wav2vec 2.0; default 1 s with a log message). Scores are sigmoid outputs for
models configured with ``problem_type="multi_label_classification"`` (AudioSet taggers), softmax
otherwise; ``activation=`` overrides.

The tests run this code on a tiny randomly initialised AST saved to a temporary folder
(no weights can be downloaded here); such a model's scores are noise.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import choice, finite_float, positive_int, resolve_device
from ..errors import ModelNotFoundError, TaggerError, require
from .base import SampleRateAlias, check_batch, split_patches

__all__ = ["HFTagger", "window_samples"]

logger = logging.getLogger(__name__)

#: Window used when neither the feature extractor nor the caller gives one.
DEFAULT_WINDOW_SECONDS = 1.0


def window_samples(feature_extractor: Any, window_seconds: float | None = None) -> int:
    """Samples per window for a ``transformers`` feature extractor.

    Parameters
    ----------
    feature_extractor : transformers.FeatureExtractionMixin
        Must have ``sampling_rate``.
    window_seconds : float, optional
        Overrides what the extractor says.

    Returns
    -------
    int

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> window_samples(SimpleNamespace(sampling_rate=16000, max_length=1024))  # AST: 1024 frames of 10 ms
    163840
    >>> window_samples(SimpleNamespace(sampling_rate=16000, n_samples=480000))  # Whisper: 30 s
    480000
    """
    sr = int(feature_extractor.sampling_rate)
    if window_seconds is not None:
        sec = finite_float(window_seconds, "window_seconds", low=0.0, low_open=True, error=TaggerError)
        return max(1, int(round(sec * sr)))
    n = getattr(feature_extractor, "n_samples", None)
    if isinstance(n, (int, np.integer)) and n > 0:
        return int(n)
    frames = getattr(feature_extractor, "max_length", None)
    if isinstance(frames, (int, np.integer)) and frames > 0:
        return int(frames) * sr // 100
    logger.info(
        "%s has no fixed input length; scoring windows of %.1f s (pass window_seconds= to change).",
        type(feature_extractor).__name__,
        DEFAULT_WINDOW_SECONDS,
    )
    return int(round(DEFAULT_WINDOW_SECONDS * sr))


def _fingerprint(folder: Path, small: int = 64 * 2**20) -> str:
    """12 hex digits identifying a model folder's files: their bytes (size, mtime for big files)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(folder).as_posix()}\0{st.st_size}\0".encode())
        if st.st_size <= small:
            h.update(f.read_bytes())
        else:
            h.update(str(st.st_mtime_ns).encode())
    return h.hexdigest()[:12]


class HFTagger(SampleRateAlias):
    """A ``transformers`` audio-classification model as a patch-decomposable tagger.

    Parameters
    ----------
    model : str or os.PathLike
        A local folder with ``config.json``, the weights and ``preprocessor_config.json``
        (offline), or a Hub id such as ``"MIT/ast-finetuned-audioset-10-10-0.4593"`` (online).
    window_seconds : float, optional
        Window length; default from the feature extractor (see the module notes).
    activation : {"sigmoid", "softmax"}, optional
        Default: sigmoid for multi-label models, softmax otherwise.
    device : str or torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    batch_size : int
        Most windows per forward pass.
    local_files_only : bool, optional
        Never contact the Hub (default: ``True`` for a folder, else the ``HF_HUB_OFFLINE`` setting).

    Raises
    ------
    MissingDependencyError
        Without ``transformers`` (install ``xmtag[hf]``).
    ModelNotFoundError
        For a folder or id that cannot be loaded (offline, misspelt, not an audio classifier).
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        window_seconds: float | None = None,
        activation: str | None = None,
        device: Any = "auto",
        batch_size: int = 8,
        local_files_only: bool | None = None,
    ) -> None:
        transformers = require("transformers", "hf", "Hugging Face audio classifiers")
        import torch

        ref = str(model)
        is_dir = Path(ref).expanduser().is_dir()
        if not is_dir and (ref.startswith((".", "~", "/")) or ref.count("/") > 1):
            raise ModelNotFoundError(
                f"hf:{ref}: no such folder (a local model folder or a Hub id 'org/name')."
            )
        src = str(Path(ref).expanduser()) if is_dir else ref
        offline = True if is_dir else local_files_only
        kwargs = {} if offline is None else {"local_files_only": bool(offline)}
        try:
            self.feature_extractor = transformers.AutoFeatureExtractor.from_pretrained(src, **kwargs)
            # weights_only=True (transformers' default, said explicitly): a pickle
            # pytorch_model.bin is read as weights only, never run
            auto = transformers.AutoModelForAudioClassification
            net = auto.from_pretrained(src, weights_only=True, **kwargs)
        except Exception as exc:
            from .._weights import is_unsafe_pickle_error, unsafe_model_error

            if is_unsafe_pickle_error(exc):
                raise unsafe_model_error(
                    ref,
                    "Hugging Face model",
                    exc,
                    "Use a model saved as model.safetensors (save_pretrained's default), or one from a "
                    "source you trust.",
                ) from None
            if not isinstance(exc, (OSError, ValueError, KeyError)):
                raise
            where = "the folder" if is_dir else "the Hugging Face Hub (or its local cache)"
            raise ModelNotFoundError(
                f"hf:{ref}: cannot load an audio-classification model from {where}: "
                f"{str(exc).splitlines()[0]} Offline, download it where the Hub is reachable "
                "(huggingface-cli download ID --local-dir FOLDER) and pass hf:FOLDER."
            ) from exc
        config = net.config
        self.labels = [str(config.id2label[i]) for i in range(config.num_labels)]
        self.sample_rate = int(self.feature_extractor.sampling_rate)
        self.patch_length = window_samples(self.feature_extractor, window_seconds)
        multi = getattr(config, "problem_type", None) == "multi_label_classification"
        self.activation = choice(
            activation or ("sigmoid" if multi else "softmax"), "activation", ("sigmoid", "softmax")
        )
        self.batch_size = positive_int(batch_size, "batch_size", error=TaggerError)
        self.device = resolve_device(device)
        self.model = net.to(self.device).eval()
        # the name is the cache key of explain(): it changes with the weights, not only the path
        commit = getattr(config, "_commit_hash", None)
        self.name = f"hf:{ref}@{_fingerprint(Path(src)) if is_dir else (commit or 'hub')[:12]}"
        self._torch = torch

    def __repr__(self) -> str:
        return (
            f"HFTagger({self.name!r}, {len(self.labels)} labels, sample_rate={self.sample_rate}, "
            f"window={self.patch_length / self.sample_rate:.2f} s, device='{self.device}')"
        )

    def _run(self, windows: np.ndarray) -> np.ndarray:
        torch = self._torch
        out = np.empty((windows.shape[0], len(self.labels)))
        with torch.inference_mode():
            for start in range(0, windows.shape[0], self.batch_size):
                chunk = windows[start : start + self.batch_size]
                feats = self.feature_extractor(
                    list(chunk), sampling_rate=self.sample_rate, return_tensors="pt"
                )
                feats = {k: v.to(self.device) for k, v in feats.items() if hasattr(v, "to")}
                logits = self.model(**feats).logits.double()
                probs = torch.sigmoid(logits) if self.activation == "sigmoid" else torch.softmax(logits, 1)
                out[start : start + chunk.shape[0]] = probs.cpu().numpy()
        return out

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Clip outputs ``(B, n_tags)``: the mean over windows.

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at ``sample_rate``.

        Returns
        -------
        numpy.ndarray
            float64 ``(B, n_tags)``.
        """
        return self.predict_patches(batch).mean(axis=1)

    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        """Per-window outputs ``(B, P, n_tags)``, ``P = N // patch_length`` (short clips are padded).

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at ``sample_rate``.

        Returns
        -------
        numpy.ndarray
            float64 ``(B, P, n_tags)``.
        """
        y = check_batch(batch)
        patches = split_patches(y, self.patch_length)
        b, p, _ = patches.shape
        return self._run(patches.reshape(b * p, -1)).reshape(b, p, len(self.labels))
