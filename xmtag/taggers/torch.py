"""Any PyTorch ``nn.Module`` as an xmtag tagger: :class:`TorchTagger`.

Give it a module that maps a batch of waveforms (or, through ``transform``, of spectrograms) to
one logit per tag, and :func:`xmtag.explain` can explain it like the pretrained taggers. With
``patch_seconds`` the clip is cut into windows of that length, each window is scored on its
own and the clip's output is the mean over windows: the tagger is then *patch-decomposable*
(``patch_length`` is set, ``predict_patches`` works, windows see no context) and exact stem x
time attributions cost no extra passes (see :mod:`xmtag.coalitions`). The activation
(sigmoid, softmax or none) is applied per window, before the mean, so the clip output is the
mean of per-window probabilities.

Inference runs under :func:`torch.inference_mode` (no gradients), in ``batch_size`` windows per
call, on ``device`` (``"auto"``: CUDA when available); outputs are float64 NumPy arrays. The
module is put in eval mode and moved to the device in place.

Examples
--------
>>> import torch, numpy as np
>>> class Loudness(torch.nn.Module):  # one logit: 10 x the RMS level
...     def forward(self, x):
...         return 10 * x.pow(2).mean(dim=1, keepdim=True).sqrt()
>>> t = TorchTagger(Loudness(), 8000, ["loud"], patch_seconds=0.5, activation=None, device="cpu")
>>> t.patch_length, t.name
(4000, 'torch:Loudness')
>>> y = np.concatenate([np.zeros(4000), np.full(4000, 0.5)]).astype(np.float32)
>>> t.predict_patches(y[None])[0, :, 0].tolist(), t.predict(y[None]).tolist()
([0.0, 5.0], [[2.5]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._checks import choice, finite_float, label_list, positive_int, resolve_device
from ..errors import TaggerError
from .base import SampleRateAlias, check_batch, split_patches

__all__ = ["TorchTagger", "ACTIVATIONS"]

#: Activations :class:`TorchTagger` applies to the module's outputs.
ACTIVATIONS = ("sigmoid", "softmax", None)


class TorchTagger(SampleRateAlias):
    """Wrap a PyTorch module as a tagger.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a float32 tensor ``(M, L)`` of mono waveforms at ``sr`` (or whatever ``transform``
        makes of it) to ``(M, n_tags)`` logits (or scores).
    sr : int
        Sample rate the module expects.
    labels : sequence of str
        Tag names, one per output column.
    patch_seconds : float, optional
        Window length. The clip output is then the mean of the windows' outputs, and
        ``patch_length = round(patch_seconds * sr)``. Without it the module sees whole clips
        and the tagger is not patch-decomposable (``patch_length`` is ``None``).
    transform : callable, optional
        Applied to the waveform tensor on the device before the module (e.g. a mel
        spectrogram); a ``torch.nn.Module`` is moved to the device too.
    activation : {"sigmoid", "softmax", None}
        Applied to the module's outputs per window: ``sigmoid`` for multi-label taggers,
        ``softmax`` for single-label classifiers, ``None`` when the module already returns scores.
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU; ``XMTAG_DEVICE`` overrides), ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, ...
    batch_size : int
        Most windows (or clips) per module call.
    name : str, optional
        Used in cache keys and metadata (default ``"torch:<class name>"``): give different weights
        different names if you cache.

    Raises
    ------
    TaggerError
        For a module that is not a ``torch.nn.Module``, bad labels, a window shorter than one
        sample or a bad activation.
    XmtagError
        For an unavailable device.
    """

    def __init__(
        self,
        module: Any,
        sr: int,
        labels: Sequence[str],
        *,
        patch_seconds: float | None = None,
        transform: Callable[[Any], Any] | None = None,
        activation: str | None = "sigmoid",
        device: Any = "auto",
        batch_size: int = 32,
        name: str | None = None,
    ) -> None:
        import torch

        if not isinstance(module, torch.nn.Module):
            raise TaggerError(
                f"TorchTagger: module must be a torch.nn.Module, got {type(module).__name__}; wrap a plain "
                "function with xmtag.taggers.FunctionTagger."
            )
        if transform is not None and not callable(transform):
            raise TaggerError(f"TorchTagger: transform must be callable, got {type(transform).__name__}.")
        if activation is not None:
            activation = choice(activation, "activation", [a for a in ACTIVATIONS if a])
        self.labels = label_list(labels, "TorchTagger", error=TaggerError)
        self.sample_rate = positive_int(sr, "TorchTagger: sr", error=TaggerError)
        self.patch_length: int | None = None
        if patch_seconds is not None:
            sec = finite_float(patch_seconds, "patch_seconds", low=0.0, low_open=True, error=TaggerError)
            self.patch_length = int(round(sec * self.sample_rate))
            if self.patch_length < 1:
                raise TaggerError(f"patch_seconds={patch_seconds} is shorter than one sample at {sr} Hz.")
        self.batch_size = positive_int(batch_size, "batch_size", error=TaggerError)
        self.activation = activation
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        if isinstance(transform, torch.nn.Module):
            transform = transform.to(self.device).eval()
        self.transform = transform
        self.name = name or f"torch:{type(module).__name__}"

    def __repr__(self) -> str:
        return (
            f"TorchTagger({type(self.module).__name__}, {len(self.labels)} labels, "
            f"sample_rate={self.sample_rate}, patch_length={self.patch_length}, "
            f"activation={self.activation!r}, device='{self.device}')"
        )

    def _run(self, rows: np.ndarray) -> np.ndarray:
        """``(M, L)`` float32 -> ``(M, n_tags)`` float64, ``batch_size`` rows per module call."""
        import torch

        n_tags = len(self.labels)
        out = np.empty((rows.shape[0], n_tags))
        with torch.inference_mode():
            for start in range(0, rows.shape[0], self.batch_size):
                x = torch.from_numpy(np.ascontiguousarray(rows[start : start + self.batch_size])).to(
                    self.device
                )
                if self.transform is not None:
                    x = self.transform(x)
                y = self.module(x)
                if not isinstance(y, torch.Tensor):
                    raise TaggerError(
                        f"tagger {self.name!r}: the module returned {type(y).__name__}, not a tensor."
                    )
                m = min(self.batch_size, rows.shape[0] - start)
                if tuple(y.shape) != (m, n_tags):
                    raise TaggerError(
                        f"tagger {self.name!r}: the module returned shape {tuple(y.shape)} for {m} inputs; "
                        f"expected ({m}, {n_tags}) = (inputs, len(labels))."
                    )
                y = y.double()
                if self.activation == "sigmoid":
                    y = torch.sigmoid(y)
                elif self.activation == "softmax":
                    y = torch.softmax(y, dim=1)
                y = y.cpu().numpy()
                if not np.isfinite(y).all():
                    raise TaggerError(f"tagger {self.name!r}: the module returned NaN or infinite values.")
                out[start : start + m] = y
        return out

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Clip-level outputs ``(B, n_tags)`` (the mean over windows with ``patch_seconds``).

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at ``sample_rate`` (1-D: one clip).

        Returns
        -------
        numpy.ndarray
            float64 ``(B, n_tags)``.

        Raises
        ------
        TaggerError
            For an invalid batch or a module returning the wrong shape or non-finite values.
        """
        y = check_batch(batch)
        if self.patch_length is None:
            return self._run(y)
        return self.predict_patches(y).mean(axis=1)

    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        """Per-window outputs ``(B, P, n_tags)``, ``P = N // patch_length`` (needs ``patch_seconds``).

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at ``sample_rate``; a clip shorter than one window is
            zero-padded with a :class:`~xmtag.taggers.ShortClipWarning`.

        Returns
        -------
        numpy.ndarray
            float64 ``(B, P, n_tags)``.

        Raises
        ------
        TaggerError
            Without ``patch_seconds``, for an invalid batch, or for bad module outputs.
        """
        if self.patch_length is None:
            raise TaggerError(
                f"tagger {self.name!r} has no windows (patch_seconds=None), so it is not patch-decomposable; "
                "use predict(), or make the TorchTagger with patch_seconds=..."
            )
        y = check_batch(batch)
        patches = split_patches(y, self.patch_length)
        b, p, _ = patches.shape
        return self._run(patches.reshape(b * p, -1)).reshape(b, p, len(self.labels))
