"""Where Demucs weights come from: a local model folder, the download caches, or the network.

- ``repo=FOLDER``: a local model folder in Demucs' own layout. A single model is a
  file ``NAME.th`` (or ``NAME-<first 8 hex digits of its sha256>.th``, then verified);
  a bag of models is ``NAME.yaml`` listing ``models: [SIG, ...]`` next to the
  ``SIG[-checksum].th`` files (``htdemucs_ft`` and ``mdx_extra`` are bags, ``htdemucs_6s``
  a single 6-stem model). For the released models, download the ``.th`` files named in
  the error message xmtag raises offline and copy ``NAME.yaml`` from ``demucs/remote/`` in
  the installed ``demucs`` package.
- ``repo=None``: Demucs' standard download and cache (Hugging Face hub, then the
  ``dl.fbaipublicfiles.com`` files cached by ``torch.hub``). Without network
  (``HF_HUB_OFFLINE=1``, ``XMTAG_OFFLINE=1``, or no route to the download hosts, probed
  with a 3-second timeout) the caches are used if they hold the model; otherwise an
  :class:`~xmtag.errors.ModelNotFoundError` says within seconds which files to put
  where.

:func:`find_local` answers "are this model's weights on this machine?" without loading
them or touching the network (the automatic separator choice uses it).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cache import cache_dir, hash_file
from ..errors import ModelNotFoundError

__all__ = ["network_available", "find_local"]

logger = logging.getLogger(__name__)

_ROOT_URL = "https://dl.fbaipublicfiles.com/demucs/"
_PROBE_HOSTS = (("dl.fbaipublicfiles.com", 443), ("huggingface.co", 443))
_PROBE_TIMEOUT = 3.0
_TRUE = {"1", "true", "yes", "on"}

_network_state: tuple[float, bool] | None = None
_file_hashes: dict[tuple[str, int, int], str] = {}


# -- network and caches ------------------------------------------------------------------------
def network_available(timeout: float = _PROBE_TIMEOUT) -> bool:
    """Whether Demucs' download hosts can be reached, decided within ``timeout`` seconds.

    ``False`` right away when ``HF_HUB_OFFLINE`` or ``XMTAG_OFFLINE`` is set to a true
    value. Otherwise a TCP connection to the download hosts is tried in a background
    thread (name resolution included), and the answer is remembered for a minute.

    Parameters
    ----------
    timeout : float
        Seconds to wait for an answer.

    Returns
    -------
    bool
        True if a download host answered.

    Examples
    --------
    >>> import os
    >>> os.environ["XMTAG_OFFLINE"] = "1"
    >>> network_available()
    False
    >>> del os.environ["XMTAG_OFFLINE"]
    """
    global _network_state
    if any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("XMTAG_OFFLINE", "HF_HUB_OFFLINE")):
        return False
    now = time.monotonic()
    if _network_state is not None and now - _network_state[0] < 60.0:
        return _network_state[1]
    result: list[bool] = []

    def probe() -> None:
        for host, port in _PROBE_HOSTS:
            try:
                socket.create_connection((host, port), timeout=timeout).close()
            except OSError:
                continue
            result.append(True)
            return

    t = threading.Thread(target=probe, daemon=True, name="xmtag-network-probe")
    t.start()
    t.join(timeout + 0.5)
    ok = bool(result)
    _network_state = (now, ok)
    logger.debug("network probe: %s", "online" if ok else "offline")
    return ok


def _remote_listing(name: str) -> list[str] | None:
    """URLs of the weight files of a released Demucs model, or ``None`` if unknown."""
    import yaml
    from demucs.pretrained import REMOTE_ROOT, _parse_remote_files

    bag = REMOTE_ROOT / f"{name}.yaml"
    models = _parse_remote_files(REMOTE_ROOT / "files.txt")
    if bag.is_file():
        sigs = yaml.safe_load(bag.read_text())["models"]
    elif name in models:
        sigs = [name]
    else:
        return None
    return [models[s] for s in sigs if s in models] if all(s in models for s in sigs) else None


def _torch_hub_checkpoints() -> Path:
    """``torch.hub.get_dir()/checkpoints``, without importing torch when it is not imported yet
    (then ``torch.hub.set_dir`` cannot have been called, and the folder follows ``TORCH_HOME``,
    ``XDG_CACHE_HOME``, ``~/.cache`` as torch.hub's own ``get_dir`` does)."""
    import sys

    if "torch" in sys.modules:
        import torch.hub

        return Path(torch.hub.get_dir()) / "checkpoints"
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "hub" / "checkpoints"


def _hf_cache_dir() -> Path:
    env = os.environ.get("HF_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def _file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _file_hashes:
        _file_hashes[key] = hash_file(path)
    return _file_hashes[key]


# -- model sources -----------------------------------------------------------------------------
@dataclass
class _Source:
    """Where a model's weights are and how to load them."""

    name: str
    kind: str  # "local", "torch-hub-cache", "hf-cache", "download"
    repo: Path | None = None  # folder for get_model(name, repo=...)
    files: list[Path] = field(default_factory=list)
    hf_files: tuple[Path, list[Path]] | None = None  # (yaml, safetensors) in the HF cache
    signature: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        """The model. ``.th`` files (pickles) are read with ``torch.load(weights_only=True)`` and
        an allow-list of Demucs' own classes (:func:`load_demucs_file`); ``.safetensors`` hold
        no code. Never ``weights_only=False``."""
        if self.kind == "hf-cache":
            assert self.hf_files is not None
            return _load_hf_cached(*self.hf_files)
        if self.kind == "download":
            return _load_downloaded(self.name)
        assert self.repo is not None
        return _load_repo_safely(self.name, self.repo)


def demucs_safe_globals() -> list[Any]:
    """What a Demucs ``.th`` package may name besides tensors and containers: Demucs' model
    classes, ``fractions.Fraction`` (HTDemucs' segment) and numpy's scalar/dtype constructors."""
    import fractions

    import numpy as np

    allowed: list[Any] = [fractions.Fraction]
    for module, name in (
        ("demucs.htdemucs", "HTDemucs"),
        ("demucs.hdemucs", "HDemucs"),
        ("demucs.demucs", "Demucs"),
    ):
        try:
            allowed.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):  # pragma: no cover - an older or newer demucs
            pass
    core = getattr(np, "_core", None) or np.core
    allowed += [
        (core.multiarray.scalar, "numpy.core.multiarray.scalar"),
        core.multiarray.scalar,
        (core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
        core.multiarray._reconstruct,
        np.ndarray,
        np.dtype,
        (np.dtype, "numpy.dtype"),
    ]
    if hasattr(np, "dtypes"):
        allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return allowed


_MODEL_CLASSES = ("HTDemucs", "HDemucs", "Demucs")


def load_demucs_file(path: Path) -> Any:
    """One Demucs model from a ``.th`` package, without running code from the file.

    Raises
    ------
    UnsafeModelFileError
        If the file needs anything outside :func:`demucs_safe_globals` (a code-running pickle).
    ModelNotFoundError
        If it is not a Demucs package.
    """
    from demucs.states import load_model

    from .._weights import safe_torch_load

    package = safe_torch_load(
        path,
        allowed=demucs_safe_globals(),
        what="Demucs model file",
        fix="Use the released Demucs files (from dl.fbaipublicfiles.com or the Hugging Face hub) "
        "or a model you trained yourself, in a --repo folder of its own.",
    )
    klass = package.get("klass") if isinstance(package, dict) else None
    if getattr(klass, "__name__", None) not in _MODEL_CLASSES or not str(
        getattr(klass, "__module__", "")
    ).startswith("demucs."):
        raise ModelNotFoundError(
            f"{str(path)!r} is not a Demucs model package (no Demucs model class in it). "
            "Give the folder of a Demucs model's .th files."
        )
    return load_model(package)


def _load_repo_safely(name: str, repo: Path) -> Any:
    """What ``demucs.pretrained.get_model(name, repo=repo)`` does, each ``.th`` read safely."""
    import yaml
    from demucs.apply import BagOfModels
    from demucs.repo import BagOnlyRepo, LocalRepo, check_checksum

    models = LocalRepo(repo)

    def one(sig: str) -> Any:
        file = Path(models.list_model()[sig])
        checksum = getattr(models, "_checksums", {}).get(sig)
        if checksum:
            check_checksum(file, checksum)
        return load_demucs_file(file)

    if models.has_model(name):
        return one(name)
    bags = BagOnlyRepo(repo, models)
    bag = yaml.safe_load(Path(bags.list_model()[name]).read_text())
    model = BagOfModels([one(s) for s in bag["models"]], bag.get("weights"), bag.get("segment"))
    model.eval()
    return model


def _load_downloaded(name: str) -> Any:
    """A released model: Demucs' Hugging Face ``.safetensors`` first, else the legacy ``.th``
    files, downloaded (hash-checked) into the ``torch.hub`` cache and read safely."""
    try:
        from demucs.hf import get_hf_model
    except ImportError:  # pragma: no cover - demucs before the hub
        get_hf_model = None
    if get_hf_model is not None:
        try:
            model = get_hf_model(name)
            model.eval()
            return model
        except Exception as exc:
            logger.debug("Demucs %r not on the Hugging Face hub (%r); trying the legacy files.", name, exc)
    import torch.hub

    urls = _remote_listing(name)
    if not urls:
        raise ModelNotFoundError(f"{name!r} is not a released Demucs model. " + _howto(name, None))
    ckpt = _torch_hub_checkpoints()
    ckpt.mkdir(parents=True, exist_ok=True)
    cached = []
    for url in urls:
        dest = ckpt / url.rsplit("/", 1)[-1]
        if not dest.is_file():
            match = torch.hub.HASH_REGEX.search(dest.name)
            torch.hub.download_url_to_file(url, str(dest), match.group(1) if match else None, progress=False)
        cached.append(dest)
    return _load_repo_safely(name, _repo_from_torch_hub(name, cached))


def _load_hf_cached(yaml_path: Path, weights: list[Path]) -> Any:
    """What ``demucs.hf.get_hf_model`` does, from files already in the Hugging Face cache."""
    import yaml
    from demucs.apply import BagOfModels
    from demucs.hf import load_safetensors_model

    bag = yaml.safe_load(yaml_path.read_text())
    model = BagOfModels([load_safetensors_model(p) for p in weights], bag.get("weights"), bag.get("segment"))
    model.eval()
    return model


def _howto(name: str, urls: list[str] | None) -> str:
    """Instructions for getting a model's files onto an offline machine."""
    example = Path("~/demucs_models")
    if urls:
        files = "\n".join(f"    {u}" for u in urls)
        from demucs.pretrained import REMOTE_ROOT

        yaml_path = REMOTE_ROOT / f"{name}.yaml"
        yaml_line = (
            f"  and copy the bag definition {yaml_path} (it ships with the demucs package)\n"
            if yaml_path.is_file()
            else ""
        )
        return (
            f"On a machine with internet, download\n{files}\n{yaml_line}"
            f"into one folder, e.g. {example}/, then pass it: Separator({name!r}, repo='{example}') "
            f"or `xmtag separate FILE --model {name} --repo {example}`. "
            f"(Putting the .th files into {_torch_hub_checkpoints()}/ also works, without repo.)"
        )
    return (
        f"Put {name}.th (a Demucs model saved as a dict with 'klass', 'args', 'kwargs', 'state') or "
        f"{name}.yaml (a bag: 'models: [SIG, ...]' plus each SIG.th) into a folder, e.g. {example}/, "
        f"and pass it: Separator({name!r}, repo='{example}') or --repo {example}."
    )


def _resolve_local(name: str, repo: Path) -> _Source:
    from demucs.repo import BagOnlyRepo, LocalRepo, ModelLoadingError

    if not repo.exists():
        raise ModelNotFoundError(f"Demucs model folder {str(repo)!r} does not exist. Check the repo path.")
    if not repo.is_dir():
        raise ModelNotFoundError(f"Demucs model folder {str(repo)!r} is a file; pass the folder holding it.")
    try:
        models = LocalRepo(repo)
        bags = BagOnlyRepo(repo, models)
    except ModelLoadingError as exc:
        raise ModelNotFoundError(f"Demucs model folder {str(repo)!r}: {exc}") from exc
    available = sorted(set(models.list_model()) | set(bags.list_model()))
    if models.has_model(name):
        files = [Path(models.list_model()[name])]
    elif bags.has_model(name):
        import yaml

        yaml_path = Path(bags.list_model()[name])
        try:
            sigs = yaml.safe_load(yaml_path.read_text())["models"]
        except Exception as exc:
            raise ModelNotFoundError(
                f"Cannot read the bag of models {str(yaml_path)!r} ({exc}); "
                "it must hold 'models: [SIG, ...]'."
            ) from exc
        missing = [s for s in sigs if not models.has_model(s)]
        if missing:
            raise ModelNotFoundError(
                f"The bag {str(yaml_path)!r} lists {missing} but {str(repo)!r} has no "
                f"{' / '.join(f'{s}.th or {s}-<checksum>.th' for s in missing)}. "
                + _howto(name, _remote_listing(name))
            )
        files = [yaml_path] + [Path(models.list_model()[s]) for s in sigs]
    else:
        raise ModelNotFoundError(
            f"No Demucs model {name!r} in {str(repo)!r} (it has: {available or 'no .th/.yaml files'}). "
            + _howto(name, _remote_listing(name))
        )
    signature = {"name": name, "files": [[p.name, _file_sha256(p)] for p in files]}
    return _Source(name=name, kind="local", repo=repo, files=files, signature=signature)


def _resolve_remote(name: str) -> _Source:
    urls = _remote_listing(name)
    basenames = [u.rsplit("/", 1)[-1] for u in urls] if urls else None
    if network_available():
        sig: dict[str, Any] = {"name": name, "files": basenames} if basenames else {}
        return _Source(name=name, kind="download", signature=sig)
    # Offline: a complete copy in the Hugging Face cache or the torch.hub cache will do.
    hf = _find_hf_cached(name)
    if hf is not None:
        return _Source(
            name=name,
            kind="hf-cache",
            hf_files=hf,
            files=[hf[0], *hf[1]],
            signature={"name": name, "files": [p.name for p in hf[1]]},
        )
    if urls and basenames:
        ckpt = _torch_hub_checkpoints()
        cached = [ckpt / b for b in basenames]
        if all(p.is_file() for p in cached):
            return _Source(
                name=name,
                kind="torch-hub-cache",
                repo=_repo_from_torch_hub(name, cached),
                files=cached,
                signature={"name": name, "files": basenames},
            )
    raise ModelNotFoundError(
        f"Demucs model {name!r} is not available: no network (offline) and not in the local caches "
        f"(Hugging Face: {_hf_cache_dir()}, torch.hub: {_torch_hub_checkpoints()}).\n"
        + (_howto(name, urls) if urls else f"{name!r} is not a released Demucs model. " + _howto(name, None))
    )


#: ``demucs.hf.DEFAULT_NAMESPACE``: the Hugging Face owner of the released Demucs models (checked
#: by a test), known here so that an empty cache is seen without importing demucs.
_HF_NAMESPACE = "adefossez"


def _hf_cache_may_hold(name: str) -> bool:
    """Whether the Hugging Face cache has any model folder of ``name``'s owner: a few ``stat``
    calls, so that ``xmtag explain`` without Demucs weights does not import demucs and
    huggingface_hub to learn that the cache is empty."""
    namespace = name.split("/", 1)[0] if "/" in name else _HF_NAMESPACE
    try:
        return any((_hf_cache_dir()).glob(f"models--{namespace}--*"))
    except OSError:
        return True  # cannot tell: look properly


def _find_hf_cached(name: str) -> tuple[Path, list[Path]] | None:
    if not _hf_cache_may_hold(name):
        return None
    try:
        import yaml
        from demucs.hf import DEFAULT_NAMESPACE, hf_repo_name
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    namespace, short = name.split("/", 1) if "/" in name else (DEFAULT_NAMESPACE, name)
    repo_id = f"{namespace}/{hf_repo_name(short)}"
    cache = str(_hf_cache_dir())
    found = try_to_load_from_cache(repo_id, f"{short}.yaml", cache_dir=cache)
    if not isinstance(found, str):
        return None
    try:
        sigs = yaml.safe_load(Path(found).read_text())["models"]
    except Exception:
        return None
    weights = [try_to_load_from_cache(repo_id, f"{s}.safetensors", cache_dir=cache) for s in sigs]
    if not all(isinstance(w, str) for w in weights):
        return None
    return Path(found), [Path(w) for w in weights]


def _repo_from_torch_hub(name: str, cached: list[Path]) -> Path:
    """A Demucs model folder (links to the torch.hub files + the bag yaml) for get_model(repo=)."""
    from demucs.pretrained import REMOTE_ROOT

    folder = cache_dir() / "demucs-repos" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only cache: a temporary folder will do
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix=f"xmtag-demucs-{name}-"))
    yaml_src = REMOTE_ROOT / f"{name}.yaml"
    if yaml_src.is_file():
        shutil.copyfile(yaml_src, folder / yaml_src.name)
    for src in cached:
        dest = folder / src.name
        if not dest.exists():
            try:
                dest.symlink_to(src)
            except OSError:
                shutil.copyfile(src, dest)
    return folder


def find_local(name: str, repo: str | os.PathLike[str] | None = None) -> str | None:
    """Where the weights of Demucs model ``name`` are on this machine, or ``None``.

    Looks in ``repo`` when given, else in the Hugging Face and ``torch.hub`` caches; never
    uses the network and loads nothing.

    Parameters
    ----------
    name : str
        Demucs model name, e.g. ``"htdemucs"``.
    repo : str or os.PathLike, optional
        A local model folder.

    Returns
    -------
    str or None
        A short description of where (``"folder models/"``, ``"Hugging Face cache"``, ...).

    Examples
    --------
    >>> find_local("htdemucs", repo="/nonexistent") is None
    True
    """
    if repo is not None:
        try:
            _resolve_local(name, Path(repo).expanduser())
        except ModelNotFoundError:
            return None
        return f"folder {str(repo)!r}"
    try:
        if _find_hf_cached(name) is not None:
            return f"Hugging Face cache ({_hf_cache_dir()})"
        if not _torch_hub_checkpoints().is_dir():  # nothing downloaded: no need to list the files
            return None
        urls = _remote_listing(name)
    except Exception:  # a broken cache or demucs install: not available
        return None
    if urls:
        cached = [_torch_hub_checkpoints() / u.rsplit("/", 1)[-1] for u in urls]
        if all(p.is_file() for p in cached):
            return f"torch.hub cache ({_torch_hub_checkpoints()})"
    return None
