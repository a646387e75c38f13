"""Atomic file writing: nothing a user saved is ever lost or half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import AudioFileNotFoundError, OutputError

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "check_input_file"]


def _output_dir(path: Path) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"Cannot write {str(path)!r}: it is a directory. Give a file name.")
    if not parent.exists():
        raise OutputError(
            f"Cannot write {str(path)!r}: the folder {str(parent)!r} does not exist. Create it first."
        )
    if not parent.is_dir():
        raise OutputError(f"Cannot write {str(path)!r}: {str(parent)!r} is not a folder.")
    return parent


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps the suffix of ``path`` (libraries that pick a format
    from the extension still work). If the block raises, the temporary file is
    removed and ``path`` is left exactly as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The final destination.

    Yields
    ------
    pathlib.Path
        The temporary path to write to.

    Raises
    ------
    OutputError
        If the destination folder does not exist or is not writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> dest = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(dest) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> dest.read_text()
    'hello'
    """
    path = Path(path)
    parent = _output_dir(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=parent)
    except OSError as exc:
        raise OutputError(
            f"Cannot write {str(path)!r}: {exc.strerror or exc}. Choose a writable location."
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # flush file contents to disk before the rename
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # readable like a normally created file
        os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    return atomic_write_bytes(path, text.encode(encoding))


def check_input_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it is an existing, non-empty file.

    Raises
    ------
    AudioFileNotFoundError
        If it does not exist or is a directory.
    """
    p = Path(path)
    if not p.exists():
        raise AudioFileNotFoundError(f"{what.capitalize()} {str(p)!r} does not exist. Check the path.")
    if p.is_dir():
        raise AudioFileNotFoundError(
            f"{what.capitalize()} {str(p)!r} is a directory, not a file. Give the path of a {what}."
        )
    return p
