"""Music taggers: the models xmtag explains.

Any object with ``labels``, ``sample_rate``, ``patch_length``, ``predict(batch)``
and ``predict_patches(batch)`` is a tagger (see :class:`Tagger`); this package
provides the pretrained ones and a registry:

* ``"musicnn-msd"``, ``"musicnn-mtt"``, ``"msd-vgg"``, ``"mtt-vgg"``: the
  pretrained musicnn models in PyTorch (:mod:`xmtag.taggers.musicnn`), weights
  shipped inside xmtag (converted from the ``musicnn`` package's checkpoints);
* a path to an Essentia model-zoo graph ``model.pb`` (with ``model.json``
  beside it), run by essentia-tensorflow in a worker process
  (:mod:`xmtag.taggers.essentia`, extra ``[essentia]``);
* ``"hf:<folder or hub id>"``: a Hugging Face ``transformers`` audio classifier
  (:mod:`xmtag.taggers.hf`, extra ``[hf]``), windowed to the model's input length;
* ``"birdnet"``: BirdNET 2.4, 6,522 bird species and other sounds, 48 kHz, 3-s windows
  (:mod:`xmtag.taggers.birdnet`, extra ``[birds]``; the weights are CC BY-NC-SA 4.0,
  non-commercial);
* :class:`TorchTagger` wraps any PyTorch ``nn.Module`` (:mod:`xmtag.taggers.torch`);
* :class:`FunctionTagger` wraps a plain function.

Examples
--------
>>> from xmtag.taggers import available_taggers, FunctionTagger
>>> available_taggers()
['birdnet', 'msd-vgg', 'mtt-vgg', 'musicnn-msd', 'musicnn-mtt']
>>> t = FunctionTagger(lambda b: np.abs(b).max(1, keepdims=True), ["peak"], sample_rate=16000)
>>> t.predict(np.full((1, 100), 0.25, np.float32)).tolist()
[[0.25]]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np  # noqa: F401  (doctest namespace)

from ..errors import ModelNotFoundError
from ._stream import can_stream, stream_patches
from .base import (
    FunctionTagger,
    ShortClipWarning,
    Tagger,
    TaggerSpec,
    check_batch,
    check_tagger,
    patch_context,
    split_patches,
    tagger_name,
    tagger_spec,
    tagger_sr,
)
from .torch import TorchTagger

__all__ = [
    "FunctionTagger",
    "ShortClipWarning",
    "Tagger",
    "TorchTagger",
    "available_taggers",
    "check_batch",
    "check_tagger",
    "TaggerSpec",
    "tagger_spec",
    "tagger_name",
    "tagger_sr",
    "patch_context",
    "load_tagger",
    "register_tagger",
    "split_patches",
    "can_stream",
    "stream_patches",
]

_REGISTRY: dict[str, Callable[..., Any]] = {}
_ALIASES = {
    "msd_musicnn": "musicnn-msd",
    "mtt_musicnn": "musicnn-mtt",
    "msd_vgg": "msd-vgg",
    "mtt_vgg": "mtt-vgg",
    "musicnn": "musicnn-msd",
}


def register_tagger(name: str, factory: Callable[..., Any]) -> None:
    """Make ``load_tagger(name, **kwargs)`` call ``factory(**kwargs)``.

    Parameters
    ----------
    name : str
        The name (a later registration of the same name replaces the earlier one).
    factory : callable
        Returns a tagger; receives ``load_tagger``'s keyword arguments.

    Examples
    --------
    >>> register_tagger("silence-detector", lambda: FunctionTagger(
    ...     lambda b: (np.abs(b).max(1, keepdims=True) == 0).astype("float32"), ["silent"], 16000))
    >>> load_tagger("silence-detector").labels
    ['silent']
    >>> _ = _REGISTRY.pop("silence-detector")
    """
    _REGISTRY[name.lower()] = factory


def available_taggers() -> list[str]:
    """Names :func:`load_tagger` knows (besides paths to Essentia graphs).

    Returns
    -------
    list of str
        Sorted names, including those added with ``register_tagger``.

    Examples
    --------
    >>> "musicnn-msd" in available_taggers()
    True
    """
    return sorted(_REGISTRY)


def _musicnn_factory(name: str) -> Callable[..., Any]:
    def factory(**kwargs: Any) -> Any:
        from .musicnn import MusicnnTagger

        return MusicnnTagger(name, **kwargs)

    return factory


for _name in ("musicnn-msd", "musicnn-mtt", "msd-vgg", "mtt-vgg"):
    register_tagger(_name, _musicnn_factory(_name))


def _birdnet_factory(**kwargs: Any) -> Any:
    from .birdnet import BirdNETTagger

    return BirdNETTagger(**kwargs)


register_tagger("birdnet", _birdnet_factory)


def load_tagger(name_or_path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Load a pretrained tagger by name, or an Essentia graph by path.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        ``"musicnn-msd"`` (default choice), ``"musicnn-mtt"``, ``"msd-vgg"``,
        ``"mtt-vgg"`` (also the musicnn folder names such as ``"MSD_musicnn"``),
        ``"birdnet"``, ``"hf:<local folder or Hub id>"`` (a ``transformers`` audio
        classifier), a name added with :func:`register_tagger`, or the path of an
        Essentia model-zoo ``.pb`` graph whose JSON metadata lies beside it.
    **kwargs
        Passed to the tagger's constructor (e.g. ``device``, ``precision``, ``batch_size``,
        ``num_threads``).

    Returns
    -------
    Tagger

    Raises
    ------
    ModelNotFoundError
        Unknown name, or a path that does not exist.
    MissingDependencyError
        The package carrying the weights (or essentia) is missing.

    Examples
    --------
    >>> load_tagger("no-such-model")
    Traceback (most recent call last):
    ...
    xmtag.errors.ModelNotFoundError: Unknown tagger 'no-such-model'. ...
    """
    key = str(name_or_path)
    if not isinstance(name_or_path, os.PathLike) and key[:3].lower() == "hf:":
        from .hf import HFTagger

        if not key[3:]:
            raise ModelNotFoundError("hf: needs a model after the colon: hf:<local folder> or hf:<org/name>.")
        return HFTagger(key[3:], **kwargs)
    if isinstance(name_or_path, os.PathLike) or key.lower().endswith(".pb") or os.sep in key:
        path = Path(name_or_path)
        if not path.is_file():
            raise ModelNotFoundError(f"Tagger graph {path} does not exist.")
        if path.suffix.lower() != ".pb":
            raise ModelNotFoundError(
                f"{path}: only Essentia TensorFlow graphs (.pb with a .json beside) can be loaded by path."
            )
        from .essentia import EssentiaTagger

        return EssentiaTagger(path, **kwargs)
    name = _ALIASES.get(key.lower(), key.lower())
    if name not in _REGISTRY:
        raise ModelNotFoundError(
            f"Unknown tagger {key!r}. Available: {', '.join(available_taggers())}, "
            "hf:<folder or Hugging Face id>, or the path of an Essentia .pb graph."
        )
    return _REGISTRY[name](**kwargs)
