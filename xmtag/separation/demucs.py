"""Source separation with Demucs: a mixed song in, :class:`~xmtag.separation.Stems` out.

:class:`Separator` wraps the ``demucs`` package: models are loaded through
``demucs.pretrained.get_model(name, repo=...)`` and applied with
``demucs.apply.apply_model(..., split=True)``, which processes the track in
overlapping chunks of the model's segment length (about 8 s) so that memory stays
bounded on long tracks. Results are cached on disk (:mod:`xmtag.cache`), keyed by the
audio content, the model's weights and the separation parameters.

Where the weights come from
---------------------------
- ``repo=FOLDER``: a local model folder in Demucs' own layout. A single model is a
  file ``NAME.th`` (or ``NAME-<first 8 hex digits of its sha256>.th``, then verified);
  a bag of models is ``NAME.yaml`` listing ``models: [SIG, ...]`` next to the
  ``SIG[-checksum].th`` files. For the released models, download the ``.th`` files
  named in the error message xmtag raises offline and copy ``NAME.yaml`` from
  ``demucs/remote/`` in the installed ``demucs`` package.
- ``repo=None``: Demucs' standard download and cache (Hugging Face hub, then the
  ``dl.fbaipublicfiles.com`` files cached by ``torch.hub``). Without network
  (``HF_HUB_OFFLINE=1``, ``XMTAG_OFFLINE=1``, or no route to the download hosts, probed
  with a 3-second timeout) the caches are used if they hold the model; otherwise an
  :class:`~xmtag.errors.ModelNotFoundError` says within seconds which files to put
  where.

Memory
------
Demucs keeps the whole output in memory (``stems x channels x samples`` float32, 4x the
input for 4 stems) plus one chunk's activations. For a file input xmtag normalises the
samples in place instead of copying them. Measured with the default-size HTDemucs
(random weights, ``benchmarks/separation_speed.py``): a 10-minute stereo file peaks
around 2.3 GiB resident. glibc's heap fragmentation adds a few hundred MB to each chunk's
working set; ``MALLOC_MMAP_THRESHOLD_=4194304`` in the environment trades about a third
more CPU time for a lower peak.

Model files are Python pickles (``torch.load(weights_only=False)``, as Demucs does):
load only files you trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import random
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import check_waveform, load_audio, resample
from ..cache import Cache, cache_dir, default_cache, hash_array, hash_file, make_key
from ..errors import AudioError, ModelNotFoundError, XmtagError
from .stems import Stems

__all__ = ["Separator", "DEFAULT_MODEL", "CACHE_NAMESPACE", "network_available"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "htdemucs"
#: Cache namespace of separated stems.
CACHE_NAMESPACE = "stems"
#: Bump when the separation code changes what it returns, to retire old cache entries.
_CODE_VERSION = 1
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
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


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
        from demucs.pretrained import get_model

        if self.kind == "hf-cache":
            assert self.hf_files is not None
            return _load_hf_cached(*self.hf_files)
        return get_model(self.name, repo=self.repo)


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


def _find_hf_cached(name: str) -> tuple[Path, list[Path]] | None:
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


# -- the separator -----------------------------------------------------------------------------
class Separator:
    """Separate songs into stems with a Demucs model.

    Parameters
    ----------
    model : str
        A Demucs model name: ``"htdemucs"`` (drums, bass, other, vocals), ``"htdemucs_ft"``,
        ``"htdemucs_6s"`` (adds guitar and piano), ``"mdx_extra"``, ..., or the name of a
        ``.th`` / bag ``.yaml`` in ``repo``.
    repo : str or os.PathLike, optional
        Local model folder (layout in the module notes). ``None``: Demucs' download/cache.
    device : str
        Torch device for the computation (``"cpu"``, ``"cuda"``); the full track stays in
        host memory, chunks move to the device.
    shifts : int
        Random time shifts averaged (Demucs' "shift trick"); the shifts are drawn from
        ``seed``, so the result is deterministic. 0 is fastest.
    overlap : float
        Overlap between chunks, in ``[0, 1)``.
    segment : float, optional
        Chunk length in seconds; default the model's own (must not exceed it for
        transformer models).
    jobs : int
        Parallel CPU workers over chunks (more memory, faster with many cores).
    cache : bool
        Reuse and store results in the xmtag cache (``$XMTAG_CACHE``).
    progress : bool
        Show a progress bar over chunks.
    seed : int
        Seed of the random shifts.

    Raises
    ------
    ModelNotFoundError
        If the model is neither in ``repo`` nor cached and cannot be downloaded: the
        message names the files to fetch and where to put them (raised within seconds).
    XmtagError
        For invalid parameters.

    Examples
    --------
    >>> sep = Separator("htdemucs", repo="/path/to/models")  # doctest: +SKIP
    >>> stems = sep.separate("song.mp3")  # doctest: +SKIP
    >>> stems.names  # doctest: +SKIP
    ['drums', 'bass', 'other', 'vocals']
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        repo: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        shifts: int = 0,
        overlap: float = 0.25,
        segment: float | None = None,
        jobs: int = 0,
        *,
        cache: bool = True,
        progress: bool = True,
        seed: int = 0,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise XmtagError(f"Separator: model must be a Demucs model name, got {model!r}.")
        if isinstance(shifts, bool) or not isinstance(shifts, (int, np.integer)) or shifts < 0:
            raise XmtagError(f"Separator: shifts must be an integer >= 0, got {shifts!r}.")
        if not 0.0 <= _number(overlap, "overlap") < 1.0:
            raise XmtagError(f"Separator: overlap must be in [0, 1), got {overlap!r}.")
        if segment is not None and not _number(segment, "segment") > 0:
            raise XmtagError(f"Separator: segment must be a positive number of seconds, got {segment!r}.")
        if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 0:
            raise XmtagError(f"Separator: jobs must be an integer >= 0, got {jobs!r}.")
        _check_device(device)
        self.model_name = model
        self.repo = Path(repo).expanduser() if repo is not None else None
        self.device = str(device)
        self.shifts = int(shifts)
        self.overlap = float(overlap)
        self.segment = None if segment is None else float(segment)
        self.jobs = int(jobs)
        self.progress = bool(progress)
        self.seed = int(seed)
        self.cache: Cache = default_cache(enabled=bool(cache))
        self._model: Any = None
        self._source = _resolve_local(model, self.repo) if self.repo is not None else _resolve_remote(model)

    def __repr__(self) -> str:
        repo = f", repo={str(self.repo)!r}" if self.repo is not None else ""
        return (
            f"Separator({self.model_name!r}{repo}, device={self.device!r}, shifts={self.shifts}, "
            f"overlap={self.overlap}, segment={self.segment}, jobs={self.jobs})"
        )

    # -- model ----------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The Demucs model (or bag of models), loaded on first use."""
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from demucs.repo import ModelLoadingError

        src = self._source
        where = f"from {str(src.repo)!r}" if src.kind == "local" else f"({src.kind})"
        logger.info("Loading Demucs model %r %s", src.name, where)
        try:
            model = src.load()
        except ModelLoadingError as exc:
            raise ModelNotFoundError(f"Cannot load Demucs model {src.name!r} {where}: {exc}") from exc
        except SystemExit as exc:  # demucs' `fatal()` exits
            raise ModelNotFoundError(
                f"Cannot load Demucs model {src.name!r} {where} (demucs exited)."
            ) from exc
        except ImportError as exc:
            raise XmtagError(f"Cannot load Demucs model {src.name!r}: {exc}.") from exc
        except Exception as exc:
            raise ModelNotFoundError(
                f"Cannot load Demucs model {src.name!r} {where}: {type(exc).__name__}: {exc}. "
                "The file may be corrupt or not a Demucs model; re-download it. "
                + _howto(src.name, _remote_listing(src.name))
            ) from exc
        if model is None:
            raise ModelNotFoundError(f"Demucs returned no model for {src.name!r} {where}.")
        if not src.signature:  # downloaded, unknown name: identify it by its weights
            src.signature = {"name": src.name, "state": _state_hash(model)}
        max_seg = _max_segment(model)
        if self.segment is not None and max_seg is not None and self.segment > max_seg + 1e-9:
            raise XmtagError(
                f"Separator: segment={self.segment:g} s exceeds the {max_seg:g} s that model "
                f"{src.name!r} was trained with; pass segment <= {max_seg:g} or leave it unset."
            )
        return model

    @property
    def sources(self) -> list[str]:
        """The stem names the model produces (loads the model)."""
        return list(self.model.sources)

    @property
    def samplerate(self) -> int:
        """The model's sample rate (loads the model)."""
        return int(self.model.samplerate)

    @property
    def signature(self) -> dict[str, Any]:
        """What identifies the model's weights in cache keys (names and hashes of its files)."""
        if not self._source.signature:
            _ = self.model
        return dict(self._source.signature)

    def _params(self) -> dict[str, Any]:
        return {
            "shifts": self.shifts,
            "overlap": self.overlap,
            "segment": self.segment,
            "seed": self.seed if self.shifts else None,
            "split": True,
            "device": self.device.split(":")[0],
        }

    # -- separation -----------------------------------------------------------------------------
    def separate(self, path_or_array: str | os.PathLike[str] | np.ndarray, sr: int | None = None) -> Stems:
        """Separate a song into stems.

        Parameters
        ----------
        path_or_array : str, os.PathLike or numpy.ndarray
            An audio file (wav, flac, ogg, mp3) or a waveform ``(C, N)`` / 1-D.
        sr : int, optional
            Sample rate of an array (required then); not used with a file.

        Returns
        -------
        Stems
            The model's stems in its order (e.g. drums, bass, other, vocals) at the
            model's sample rate (44.1 kHz for Demucs; ``.resampled(sr)`` converts), with the
            input (resampled likewise) as ``mixture``. Mono input is fed to the model as
            two equal channels and the stems are returned as mono (mean of the channels).

        Raises
        ------
        AudioFileNotFoundError, AudioError
            For a missing or unreadable file, or an array without ``sr``, of a bad shape,
            or with more channels than the model takes.
        ModelNotFoundError
            If the model's weights cannot be loaded.

        Examples
        --------
        >>> sep = Separator("htdemucs", repo="models/")  # doctest: +SKIP
        >>> stems = sep.separate("song.mp3")              # doctest: +SKIP
        >>> stems.names                                   # doctest: +SKIP
        ['drums', 'bass', 'other', 'vocals']
        """
        y, in_sr, label, reload = self._read_input(path_or_array, sr)
        audio_hash = hash_array(y)
        key = make_key(
            "xmtag.separation.demucs",
            _CODE_VERSION,
            audio_hash,
            in_sr,
            self.signature,
            self._params(),
            _demucs_version(),
        )
        hit = self.cache.get(CACHE_NAMESPACE, key)
        if hit is not None:
            arrays, meta = hit
            logger.info("Stems of %s from the cache (%s).", label, key[:12])
            out_sr = int(meta["sr"])
            mix = resample(y, in_sr, out_sr)
            return Stems({n: arrays[f"stem/{n}"] for n in meta["names"]}, sr=out_sr, mixture=mix)
        holder = [y]
        del y  # _separate may overwrite a file's samples in place to save memory (see there)
        stems = self._separate(holder, in_sr, label, reload, audio_hash)
        self.cache.put(
            CACHE_NAMESPACE,
            key,
            {f"stem/{n}": a for n, a in stems.items()},
            meta={
                "names": stems.names,
                "sr": stems.sr,
                "model": self.model_name,
                "signature": self.signature,
                "params": self._params(),
                "input": label,
            },
        )
        return stems

    def _read_input(
        self, x: Any, sr: int | None
    ) -> tuple[np.ndarray, int, str, Callable[[], np.ndarray] | None]:
        """``(samples, rate, label, reload)``; ``reload`` re-reads a file (``None`` for arrays)."""
        if isinstance(x, (str, os.PathLike)):
            if sr is not None:
                raise AudioError(
                    f"separate({str(x)!r}, sr={sr}): sr= is for arrays; a file's rate is read from it. "
                    "Drop sr= (Stems come back at the model's rate)."
                )
            y, file_sr = load_audio(x)
            return y, file_sr, str(x), lambda: load_audio(x)[0]
        if sr is None:
            raise AudioError("separate(array): pass the array's sample rate, e.g. separate(y, sr=44100).")
        if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or int(sr) <= 0:
            raise AudioError(f"separate(array, sr={sr!r}): sr must be a positive integer (Hz).")
        if hasattr(x, "detach"):  # a torch tensor
            x = x.detach().cpu().numpy()
        y = check_waveform(x, "separate(array)")
        return y, int(sr), f"array {tuple(y.shape)} at {int(sr)} Hz", None

    def _separate(
        self,
        holder: list[np.ndarray],
        in_sr: int,
        label: str,
        reload: Callable[[], np.ndarray] | None,
        audio_hash: str,
    ) -> Stems:
        """Run Demucs on ``holder[0]``.

        Memory: Demucs needs the track normalised ((x - mean) / std) next to its output
        (4 stems = 4x the input). When the model-rate samples are xmtag's own (a file we
        read, or a resampled copy), they are normalised in place and the exact mixture is
        re-made afterwards (re-read / re-resampled, checked against the input's hash), which
        saves one copy of the track during the separation; a caller's array is never modified.
        """
        import torch
        from demucs.apply import apply_model

        model = self.model
        model_sr, model_ch = int(model.samplerate), int(model.audio_channels)
        y = holder.pop()
        if y.shape[0] not in (1, model_ch):
            raise AudioError(
                f"{label}: {y.shape[0]} channels, but model {self.model_name!r} takes {model_ch} "
                f"(or mono). Mix it down first, e.g. xmtag.audio.to_mono or a stereo downmix."
            )
        n_in = y.shape[1]
        mix = resample(y, in_sr, model_sr)
        resampled = mix is not y
        mono = mix.shape[0] == 1 and model_ch != 1
        in_place = (resampled or reload is not None) and not mono
        if reload is not None:
            del y  # a file: read it again when needed
        n_samples = mix.shape[1]
        x = torch.from_numpy(np.ascontiguousarray(mix))
        if mono:
            x = x.expand(model_ch, -1)
        ref = x.mean(0)
        mean, std = float(ref.mean()), float(ref.std()) + 1e-8
        del ref
        if in_place:
            del mix
            x.sub_(mean).div_(std)
        else:
            x = x.sub(mean).div_(std)  # one new tensor: `mix` stays the caller's audio
        logger.info(
            "Separating %s (%.1f s) with %r on %s.", label, n_samples / model_sr, self.model_name, self.device
        )
        with _seeded(self.seed), torch.no_grad():
            out = apply_model(
                model,
                x[None],
                shifts=self.shifts,
                split=True,
                overlap=self.overlap,
                progress=self.progress,
                device=self.device,
                num_workers=self.jobs,
                segment=self.segment,
            )
        del x
        out = out[0]
        out.mul_(std).add_(mean)
        arr = out.cpu().numpy()
        if arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        if mono:
            arr = arr.mean(axis=1, keepdims=True, dtype=np.float32)
        if in_place:  # re-make the exact mixture
            if reload is not None:
                y = reload()
                if y.shape[1] != n_in or hash_array(y) != audio_hash:
                    raise AudioError(f"{label} changed while it was being separated; run again.")
            mix = resample(y, in_sr, model_sr)
        return Stems(dict(zip(list(model.sources), arr)), sr=model_sr, mixture=mix)


def _number(value: Any, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise XmtagError(f"Separator: {what} must be a number, got {value!r}.") from None
    if not np.isfinite(out):
        raise XmtagError(f"Separator: {what} must be finite, got {value!r}.")
    return out


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise XmtagError(f"Separator: unknown device {device!r} ({exc}); use 'cpu' or 'cuda'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise XmtagError(f"Separator: device {device!r} requested but CUDA is not available; use 'cpu'.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise XmtagError(f"Separator: device {device!r} requested but MPS is not available; use 'cpu'.")


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Python's ``random`` (Demucs draws its shifts from it) and restore it afterwards."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def _max_segment(model: Any) -> float | None:
    if hasattr(model, "max_allowed_segment"):
        value = float(model.max_allowed_segment)
        return None if value == float("inf") else value
    from demucs.htdemucs import HTDemucs

    return float(model.segment) if isinstance(model, HTDemucs) else None


def _state_hash(model: Any) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(hash_array(v.detach().cpu().numpy()).encode())
    return h.hexdigest()


def _demucs_version() -> str:
    try:
        return importlib.metadata.version("demucs")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"
