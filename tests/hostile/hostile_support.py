"""Helpers for the hostile corpus: generated broken inputs, a tiny tmpfs, an unprivileged child.

The corpus is built inside each test (no binary fixtures in git), so every case states how
it was made. Cases that need root (mounting a tmpfs) or an unprivileged user (permission
errors cannot happen for root) skip with the reason when that is not available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def make_tone(freq: float = 440.0, sr: int = 8000, seconds: float = 0.5, channels: int = 1) -> np.ndarray:
    """float32 (channels, samples): channel c is a sine at freq * (c + 1), amplitude 0.5 / (c + 1)."""
    t = np.arange(int(round(sr * seconds))) / sr
    return np.stack([0.5 / (c + 1) * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]).astype(
        np.float32
    )


def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount are not installed"
    return None


@pytest.fixture
def small_tmpfs(tmp_path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a disk that fills up (skipped where a tmpfs cannot be mounted)."""
    yield from _tmpfs(tmp_path / f"full-{uuid.uuid4().hex[:6]}", "size=256k")


@pytest.fixture
def readonly_tmpfs(tmp_path) -> Iterator[Path]:
    """A read-only tmpfs (skipped where a tmpfs cannot be mounted)."""
    yield from _tmpfs(tmp_path / f"ro-{uuid.uuid4().hex[:6]}", "size=64k,ro")


def _tmpfs(where: Path, options: str) -> Iterator[Path]:
    reason = _can_mount()
    if reason:
        pytest.skip(reason)
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def run_python(code: str, *, as_nobody: bool = False, env: dict | None = None, timeout: float = 120):
    """Run ``code`` in a fresh interpreter from the repository root (optionally as user nobody)."""
    cmd = [sys.executable, "-c", code]
    if as_nobody:
        if os.geteuid() != 0:
            pytest.skip("dropping privileges needs root (this run is already unprivileged)")
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv (util-linux) is not installed")
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def nobody_dir(tmp_path) -> Path:
    """A folder user nobody can enter (tmp_path's parents are opened up to o+x for the child)."""
    d = tmp_path / "for-nobody"
    d.mkdir()
    for p in [d, *d.parents]:
        if str(p) in ("/", "/tmp"):
            break
        os.chmod(p, os.stat(p).st_mode | 0o005)
    return d


def tree_hash(root) -> dict[str, str]:
    """``{relative path: what it is}`` of everything under ``root`` without following links:
    a file's SHA-256, a link's target, ``"dir"``; compare before and after to prove nothing changed."""
    import hashlib

    root = Path(root)
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
