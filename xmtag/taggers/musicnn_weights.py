"""musicnn weights: the copies shipped inside xmtag, and conversion of TensorFlow checkpoints.

xmtag ships the inference weights of the four pretrained musicnn models (Pons & Serra, 2019;
ISC licence, notice in ``xmtag/data/musicnn/LICENSE``) as float32 safetensors files,
``xmtag/data/musicnn/<MODEL>.safetensors`` (``MSD_musicnn``, ``MTT_musicnn``, ``MSD_vgg``,
``MTT_vgg``; 3.1 / 3.1 / 2.4 / 2.4 MB). ``weights.json`` beside them records each file's
SHA-256 (checked on every load: a damaged install is an error, never a wrong number) and the
SHA-256 of the TensorFlow checkpoint it was converted from. The ``musicnn`` package is therefore
**not** needed to tag; it is needed only to re-derive the shipped files
(``benchmarks/tools/export_musicnn_weights.py``) or by the test that checks them bit for bit
against :func:`convert_checkpoint` of the installed package's checkpoints.

The TensorFlow checkpoint reader (:mod:`xmtag.taggers.tfcheckpoint`, numpy only) stays in the
package because ``MusicnnTagger(checkpoint=folder)`` runs *users' own* musicnn checkpoints (the
musicnn training code writes TensorFlow checkpoints with the same variable names); converting
those goes through the same :func:`convert_checkpoint` as the shipped files, so the shipped
weights are exactly what that path produces for the original checkpoints.

Conversion (:func:`convert_checkpoint`): TF kernels ``(kh, kw, in, out)`` -> torch
``(out, in, kh, kw)``, dense kernels transposed, batch norm reduced to its inference form
``scale = gamma / sqrt(moving_variance + 1e-3)``, ``shift = beta - moving_mean * scale`` in
float32; only the ~0.8 M inference parameters are kept (the checkpoints also hold Adam slots).

Examples
--------
>>> w = shipped_weights("MSD_musicnn")
>>> tuple(w["f74.weight"].shape), w["f74.weight"].dtype
((204, 1, 7, 38), torch.float32)
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._packages import install_hint
from ..errors import CheckpointError, MissingDependencyError, ModelNotFoundError

__all__ = [
    "CONVERTER_VERSION",
    "checkpoint_digest",
    "convert_checkpoint",
    "musicnn_checkpoint",
    "shipped_manifest",
    "shipped_weights",
    "shipped_weights_path",
]

CONVERTER_VERSION = 1
_BN_EPS = 1e-3
_ARCH = {"MSD_musicnn": "musicnn", "MTT_musicnn": "musicnn", "MSD_vgg": "vgg", "MTT_vgg": "vgg"}


def _data_dir() -> Path:
    return Path(str(importlib.resources.files("xmtag") / "data" / "musicnn"))


def shipped_manifest() -> dict[str, dict[str, Any]]:
    """``weights.json``: per model, the file name, its SHA-256, the source checkpoint's digest.

    Examples
    --------
    >>> sorted(shipped_manifest())
    ['MSD_musicnn', 'MSD_vgg', 'MTT_musicnn', 'MTT_vgg']
    """
    path = _data_dir() / "weights.json"
    if not path.is_file():
        raise ModelNotFoundError(
            f"xmtag's musicnn weights manifest {path} is missing: the installation is incomplete; "
            "reinstall xmtag (pip install --force-reinstall xmtag)."
        )
    return json.loads(path.read_text(encoding="utf-8"))["models"]


def shipped_weights_path(folder_name: str) -> Path:
    """The shipped ``.safetensors`` file of a model (``"MSD_musicnn"``, ...)."""
    manifest = shipped_manifest()
    if folder_name not in manifest:
        raise ModelNotFoundError(f"No shipped musicnn weights {folder_name!r}; have {sorted(manifest)}.")
    return _data_dir() / manifest[folder_name]["file"]


def shipped_weights(folder_name: str) -> dict[str, Any]:
    """The shipped weights of a model as a ``state_dict`` of float32 CPU tensors, SHA-256-checked.

    Raises
    ------
    CheckpointError
        The file does not match its recorded SHA-256 (a damaged installation).
    ModelNotFoundError
        Unknown model or missing file.
    """
    from safetensors.torch import load as load_safetensors

    path = shipped_weights_path(folder_name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelNotFoundError(
            f"Cannot read xmtag's musicnn weights {path} ({exc}); reinstall xmtag."
        ) from None
    want = shipped_manifest()[folder_name]["sha256"]
    if hashlib.sha256(raw).hexdigest() != want:
        raise CheckpointError(
            f"xmtag's musicnn weights {path} are corrupt (SHA-256 differs from weights.json); "
            "reinstall xmtag (pip install --force-reinstall xmtag)."
        )
    return load_safetensors(raw)


# --------------------------------------------------------------------------- TF checkpoints
def musicnn_checkpoint(folder_name: str) -> Path:
    """The folder of a checkpoint shipped by the installed ``musicnn`` package (optional).

    Raises
    ------
    MissingDependencyError
        If ``musicnn`` is not installed.
    ModelNotFoundError
        If the package lacks that checkpoint.
    """
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "The original musicnn checkpoints come from the 'musicnn' package, which is not installed "
            "(xmtag does not need it to tag: its weights ship inside xmtag). To compare or re-export "
            f"them, install it without its outdated dependencies: {install_hint('musicnn')}"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / folder_name
    if not (folder / ".index").is_file():
        raise ModelNotFoundError(
            f"The installed musicnn package has no checkpoint {folder_name!r} (looked in {folder}). "
            "Reinstall it: pip install --no-deps --force-reinstall musicnn==0.1.0"
        )
    return folder


def checkpoint_files(folder: Path) -> list[Path]:
    """The ``.index`` and ``.data-*`` files of a checkpoint folder."""
    folder = Path(folder)
    if not (folder / ".index").is_file():
        raise ModelNotFoundError(f"No checkpoint index {folder / '.index'}; pass the checkpoint folder.")
    files = [folder / ".index", *sorted(folder.glob(".data-*-of-*"))]
    if len(files) < 2:
        raise ModelNotFoundError(f"Checkpoint folder {folder} has an index but no .data file.")
    return files


def checkpoint_digest(folder: Path) -> str:
    """A digest of a checkpoint's index and data files (SHA-256 of their SHA-256s)."""
    from ..cache import hash_file, make_key

    return make_key("musicnn-checkpoint", [hash_file(f) for f in checkpoint_files(folder)])


def _bn(ckpt, name: str) -> tuple[np.ndarray, np.ndarray]:
    gamma = ckpt[f"{name}/gamma"].astype(np.float32)
    beta = ckpt[f"{name}/beta"].astype(np.float32)
    mean = ckpt[f"{name}/moving_mean"].astype(np.float32)
    var = ckpt[f"{name}/moving_variance"].astype(np.float32)
    scale = (gamma / np.sqrt(var + np.float32(_BN_EPS))).astype(np.float32)
    return scale, (beta - mean * scale).astype(np.float32)


def convert_checkpoint(folder: str | Path, arch: str) -> dict[str, np.ndarray]:
    """A musicnn TensorFlow checkpoint -> the ``state_dict`` of :mod:`xmtag.taggers.musicnn_net` (numpy).

    Parameters
    ----------
    folder : str or Path
        Holds ``.index`` and ``.data-00000-of-00001``.
    arch : str
        ``"musicnn"`` or ``"vgg"``.

    Returns
    -------
    dict of str to numpy.ndarray
        float32, C-contiguous, PyTorch layout.

    Raises
    ------
    CheckpointError
        A corrupt or incomplete checkpoint (CRC mismatch, missing variable).
    """
    from .tfcheckpoint import TFCheckpoint

    ckpt = TFCheckpoint(Path(folder))
    w: dict[str, np.ndarray] = {}

    def conv(tf_name: str, key: str) -> None:
        # TF (kh, kw, in, out) -> torch (out, in, kh, kw)
        w[key + ".weight"] = np.ascontiguousarray(ckpt[f"{tf_name}/kernel"].transpose(3, 2, 0, 1))
        w[key + ".bias"] = ckpt[f"{tf_name}/bias"]

    def bn(tf_name: str, key: str) -> None:
        w[key + ".scale"], w[key + ".shift"] = _bn(ckpt, tf_name)

    def dense(tf_name: str, key: str) -> None:
        w[key + ".weight"] = np.ascontiguousarray(ckpt[f"{tf_name}/kernel"].T)
        w[key + ".bias"] = ckpt[f"{tf_name}/bias"]

    try:
        bn("batch_normalization", "bn_in")
        if arch == "musicnn":
            for i, key in enumerate(["f74", "f77", "s1", "s2", "s3"]):
                conv("conv2d" if i == 0 else f"conv2d_{i}", key)
                bn(f"batch_normalization_{i + 1}", key + "_bn")
            for i in range(3):
                conv(f"conv2d_{5 + i}", f"mid{i + 1}")
                bn(f"batch_normalization_{6 + i}", f"mid{i + 1}_bn")
                # (64, 1, 7, C) -> conv1d (64, C, 7)
                mid = w[f"mid{i + 1}.weight"]
                w[f"mid{i + 1}.weight"] = np.ascontiguousarray(mid[:, 0].transpose(0, 2, 1))
            bn("batch_normalization_9", "pool_bn")
            dense("dense", "dense")
            bn("batch_normalization_10", "dense_bn")
            dense("dense_1", "out")
        else:
            for i in range(1, 6):
                conv(f"{i}CNN", f"conv{i}")
                bn(f"batch_normalization_{i}", f"conv{i}_bn")
            dense("dense", "out")
    except KeyError as exc:
        raise CheckpointError(
            f"Checkpoint {folder} is not a musicnn {arch!r} checkpoint: variable {exc} is missing."
        ) from None
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}
