"""Safe file writing and reading checks: nothing a user saved is lost or half-written.

Policy for an output path (what :func:`atomic_path` does, decided per kind of path):

- **a regular file, or a path that does not exist yet**: written to a temporary file beside
  it, flushed to disk and renamed onto it, so the path holds either the old or the complete
  new contents, never a part;
- **a symbolic link** (to a file or to nothing yet): the link is kept and its *target* is
  written atomically as above (``ln -s /data/run1.csv latest.csv`` keeps pointing at
  ``/data/run1.csv``); a link loop is an :class:`~xmtag.errors.OutputError`;
- **a named pipe (FIFO), a character device** (``/dev/null``, a terminal) **or a file reached
  through** ``/proc`` (``/dev/stdout`` redirected to a file): written *directly* (a rename
  would replace the pipe or device with a regular file; :func:`atomic_write_bytes` appends,
  so ``--srt /dev/stdout > out.txt`` keeps what was printed before); formats that need to
  seek raise an ``OutputError`` there;
- **a directory, a socket or a block device**: refused with an ``OutputError``.

A full disk (``ENOSPC``, quota, file too large) or a read-only file system while writing is
an ``OutputError`` naming the folder; the partial temporary file is removed first.

:func:`prepare_output_dir` is the output-*folder* policy: xmtag marks the folders it writes
with ``.xmtag-output.json`` (the files it wrote), cleans those files on the next run, and
refuses to write into a non-empty folder it did not write unless ``force=True``. It never
deletes a file it cannot prove it wrote: the marker records each file's size and SHA-256, a
rerun removes only the files that still match, names in the marker must be plain relative
names reached without passing through a symbolic link, and an output folder that contains
(or is inside) an input is refused before anything is written.

Hand-written rather than a library: the standard library has the pieces (``tempfile``,
``os.replace``, ``os.stat``) and no maintained package implements this per-kind policy.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import AudioFileNotFoundError, OutputError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_input_file",
    "check_output_outside_inputs",
    "file_stems",
    "output_path",
    "shorten_name",
    "make_output_dir",
    "prepare_output_dir",
    "record_outputs",
    "OUTPUT_MARKER",
    "DEFAULT_OWNED",
]

#: The marker file xmtag writes into every output folder: the files that run wrote.
OUTPUT_MARKER = ".xmtag-output.json"
#: Files that ``xmtag explain`` / :func:`xmtag.export` write; a folder holding only these (an output
#: of an xmtag version before the marker existed) counts as an xmtag output folder.
DEFAULT_OWNED = (
    "explanation.xmtag",
    "attributions.csv",
    "segments.csv",
    "report.html",
    "plots/*.png",
    "audio/*",
)

logger = logging.getLogger(__name__)

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _disk_full_error(path: Path, folder: Path, exc: OSError) -> OutputError:
    if exc.errno == errno.EROFS:
        return OutputError(
            f"Cannot write {str(path)!r}: the folder {str(folder)!r} is on a read-only file system. "
            "Choose another output location."
        )
    return OutputError(
        f"Cannot write {str(path)!r}: the disk holding {str(folder)!r} is full ({exc.strerror or exc}); "
        "the partial file was removed. Free some space there or choose another output folder."
    )


def _is_special_path(path: Path) -> bool:
    """Whether ``path`` reaches its file through ``/proc`` (``/dev/stdout`` -> ``/proc/self/fd/1``):
    such a regular file is someone's open file descriptor (a shell redirection), not a file to
    replace."""
    p = os.path.abspath(path)
    for _ in range(40):
        p = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
        if p.startswith("/proc/"):
            return True
        if not os.path.islink(p):
            return False
        p = os.path.abspath(os.path.join(os.path.dirname(p), os.readlink(p)))
    return False


def _classify(path: Path) -> tuple[str, Path]:
    """``("atomic", where)``, ``("direct", where)`` for an output path, or raise ``OutputError``."""
    try:
        st = os.stat(path)  # follows symbolic links
    except FileNotFoundError:
        if os.path.islink(path):  # a link to a file that does not exist yet: create the target
            return "atomic", Path(os.path.realpath(path))
        return "atomic", path
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:  # a file where a folder should be: _output_dir says which
            return "atomic", path
        if exc.errno == errno.ELOOP:
            raise OutputError(
                f"Cannot write {str(path)!r}: it is a symbolic link loop. Remove the link or give "
                "another file name."
            ) from None
        if exc.errno == errno.EACCES:
            raise OutputError(
                f"Cannot write {str(path)!r}: permission denied on a folder of the path. "
                "Choose a writable location."
            ) from None
        raise OutputError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise OutputError(f"Cannot write {str(path)!r}: it is a directory. Give a file name.")
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or (stat.S_ISREG(mode) and _is_special_path(path)):
        return "direct", path
    if stat.S_ISREG(mode):
        return "atomic", Path(os.path.realpath(path)) if os.path.islink(path) else path
    kind = "a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode) else "not a file"
    raise OutputError(f"Cannot write {str(path)!r}: it is {kind}. Give the name of a regular file.")


def _output_dir(path: Path, shown: Path) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputError(
            f"Cannot write {str(shown)!r}: the folder {str(parent)!r} does not exist. Create it first."
        )
    if not parent.is_dir():
        raise OutputError(f"Cannot write {str(shown)!r}: {str(parent)!r} is not a folder.")
    return parent


@contextlib.contextmanager
def _direct(path: Path) -> Iterator[Path]:
    try:
        yield path
    except OSError as exc:
        if exc.errno in (errno.ESPIPE, errno.EINVAL):
            raise OutputError(
                f"Cannot write {str(path)!r}: this format must seek while writing, which a pipe or device "
                "cannot do. Write to a regular file instead."
            ) from exc
        if exc.errno in _DISK_FULL:
            raise _disk_full_error(path, path.parent, exc) from exc
        if exc.errno == errno.EPIPE:
            raise OutputError(
                f"Cannot write {str(path)!r}: the reading end of the pipe was closed (by `head` or a "
                "program that stopped reading); the output is incomplete."
            ) from exc
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the path to write ``path``'s new contents to; make them appear there on success.

    For a regular (or new) file this is a temporary file beside it that keeps the suffix of
    ``path`` (libraries that pick a format from the extension still work); it is flushed to
    disk and renamed onto ``path`` when the block ends without an error. If the block raises
    (including ``KeyboardInterrupt``), the temporary file is removed and ``path`` is left exactly
    as it was. Symbolic links, pipes and devices follow the module's policy (the link's
    target is replaced atomically; a pipe or device is yielded itself and written directly).

    Parameters
    ----------
    path : str or os.PathLike
        The final destination.

    Yields
    ------
    pathlib.Path
        The path to write to.

    Raises
    ------
    OutputError
        If the destination is a directory, socket or symbolic link loop, its folder does not
        exist or is not writable, or the disk fills up while writing (the partial file is
        removed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> dest = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(dest) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> dest.read_text()
    'hello'
    """
    shown = Path(path)
    how, target = _classify(shown)
    if how == "direct":
        with _direct(target) as direct:
            yield direct
        return
    parent = _output_dir(target, shown)
    try:
        old_mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        old_mode = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=parent)
    except OSError as exc:
        if exc.errno in _DISK_FULL or exc.errno == errno.EROFS:
            raise _disk_full_error(shown, parent, exc) from exc
        raise OutputError(
            f"Cannot write {str(shown)!r}: {exc.strerror or exc} in the folder {str(parent)!r}. "
            "Choose a writable location (or fix the folder's permissions)."
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
            with open(tmp, "rb+") as fh:  # flush file contents to disk before the rename
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno in _DISK_FULL or exc.errno == errno.EROFS:
                raise _disk_full_error(shown, parent, exc) from exc
            raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # the old file's permissions, else those of a new file
        os.chmod(target, old_mode if old_mode is not None else 0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`) and return the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "x.bin", b"abc")
    >>> p.read_bytes()
    b'abc'
    """
    with atomic_path(path) as tmp:
        # written directly (a pipe, a device, /dev/stdout redirected to a file): append, so that a
        # shell's `> out.txt` keeps what the program printed before; a temporary file is new anyway
        with open(tmp, "ab" if tmp == Path(path) else "wb") as fh:
            fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    return atomic_write_bytes(path, text.encode(encoding))


def check_input_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it is an existing regular file.

    Parameters
    ----------
    path : str or os.PathLike
    what : str
        What the file is, for the message (``"audio file"``, ``"transcript"``, ...).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    AudioFileNotFoundError
        With a message for each case: the path does not exist, is a dangling symbolic link or
        a link loop, a directory, a named pipe, a device or socket, or cannot be read
        (permission denied).

    Examples
    --------
    >>> check_input_file("/no/such/song.wav", "audio file")
    Traceback (most recent call last):
    ...
    xmtag.errors.AudioFileNotFoundError: Audio file '/no/such/song.wav' does not exist. Check the path.
    """
    p = Path(path)
    label = what[:1].upper() + what[1:]
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            raise AudioFileNotFoundError(
                f"{label} {str(p)!r} is a symbolic link to {os.readlink(p)!r}, which does not exist. "
                "Fix or remove the link."
            ) from None
        raise AudioFileNotFoundError(f"{label} {str(p)!r} does not exist. Check the path.") from None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise AudioFileNotFoundError(
                f"{label} {str(p)!r} does not exist: a part of the path is a file, not a folder. "
                "Check the path."
            ) from None
        if exc.errno == errno.ELOOP:
            raise AudioFileNotFoundError(
                f"{label} {str(p)!r} is a symbolic link loop (the links point at each other). "
                "Fix the link to point at a file."
            ) from None
        if exc.errno == errno.EACCES:
            raise AudioFileNotFoundError(
                f"{label} {str(p)!r} cannot be reached: permission denied on one of its folders. "
                "Fix the permissions or copy the file somewhere readable."
            ) from None
        raise AudioFileNotFoundError(f"{label} {str(p)!r} cannot be opened: {exc.strerror or exc}.") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise AudioFileNotFoundError(
            f"{label} {str(p)!r} is a directory, not a file. Give the path of a {what}."
        )
    if stat.S_ISFIFO(mode):
        raise AudioFileNotFoundError(
            f"{label} {str(p)!r} is a named pipe (FIFO), not a file: xmtag reads files it can seek in. "
            "Save the stream to a file first."
        )
    if not stat.S_ISREG(mode):
        kind = "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise AudioFileNotFoundError(f"{label} {str(p)!r} is {kind}, not a file. Give the path of a {what}.")
    if not os.access(p, os.R_OK):
        raise AudioFileNotFoundError(
            f"{label} {str(p)!r} cannot be read: permission denied. Fix its permissions (chmod +r) or "
            "copy it somewhere readable."
        )
    return p


# --------------------------------------------------------------------------------------------
# file names from user text (tags, stem names)

#: Longest file-name stem (bytes, UTF-8) xmtag makes from a tag or stem name; file systems allow
#: 255 bytes per name, and prefixes (``interactions-``) and suffixes (``.png``) need room.
MAX_STEM_BYTES = 80


def _name_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _cut_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8", "surrogatepass")[:max_bytes].decode("utf-8", "ignore")


def shorten_name(name: str, max_bytes: int = MAX_STEM_BYTES, *, key: str | None = None) -> str:
    """``name`` if it fits in ``max_bytes`` (UTF-8), else its start plus ``-`` and a short hash of
    ``key`` (default ``name``), so two long names that share a start stay different.

    Examples
    --------
    >>> shorten_name("drums")
    'drums'
    >>> n = shorten_name("x" * 300); len(n), n[:3], n[-9] == "-"
    (80, 'xxx', True)
    """
    if len(name.encode("utf-8", "surrogatepass")) <= max_bytes:
        return name
    return _cut_utf8(name, max_bytes - 9) + "-" + _name_hash(name if key is None else key)


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() or c in "-." else "_" for c in text.strip())
    out = "_".join(filter(None, out.split("_"))).strip(".")
    return out or "tag"


def file_stems(names: Iterable[str], max_bytes: int = MAX_STEM_BYTES) -> dict[str, str]:
    """A distinct, file-name-safe stem for each name: ``{name: stem}``.

    The stem is a slug (letters, digits, ``-``, ``_``, ``.``), cut to ``max_bytes`` bytes; a short
    hash of the name is appended whenever the slug was shortened or two names would give the same
    stem (``rock/pop``, ``rock pop``, ``rock_pop``; also ``Rock`` and ``rock``, which are one file
    on case-insensitive file systems). Write the mapping next to the files (xmtag does).

    Examples
    --------
    >>> m = file_stems(["rock", "rock/pop", "rock pop", "60s"])
    >>> m["rock"], m["60s"], len(set(m.values()))
    ('rock', '60s', 4)
    >>> m["rock pop"].startswith("rock_pop-")
    True
    """
    names = list(dict.fromkeys(names))
    base = {n: _slug(n) for n in names}
    counts: dict[str, int] = {}
    for b in base.values():
        counts[b.lower()] = counts.get(b.lower(), 0) + 1
    out: dict[str, str] = {}
    taken: set[str] = set()
    for n in names:
        b = base[n]
        if counts[b.lower()] > 1 or len(b.encode("utf-8")) > max_bytes:
            b = _cut_utf8(b, max_bytes - 9) + "-" + _name_hash(n)
        stem, k = b, 1
        while stem.lower() in taken:  # a tag that happens to look like another's hashed stem
            k += 1
            stem = f"{_cut_utf8(b, max_bytes - 1 - len(str(k)))}-{k}"
        taken.add(stem.lower())
        out[n] = stem
    return out


# --------------------------------------------------------------------------------------------
# output folders


def _read_marker(folder: Path) -> dict[str, tuple[int, str]] | None:
    """``{name: (size, sha256)}`` of the files the marker proves xmtag wrote; ``None``: no marker.

    A damaged marker, or one of an older xmtag (names without sizes and hashes), still marks an
    xmtag folder, but proves nothing: nothing it lists is removed."""
    marker = folder / OUTPUT_MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        checks = data.get("checks", {})
        if not isinstance(checks, dict):
            raise ValueError("checks is not a mapping")
        out = {}
        for name, item in checks.items():
            ok = isinstance(item, dict) and isinstance(item.get("size"), int)
            if ok and isinstance(item.get("sha256"), str):
                out[str(name)] = (item["size"], item["sha256"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # a damaged marker still marks an xmtag folder; nothing listed is removed
    return out


def _plain_parts(rel: str) -> tuple[str, ...] | None:
    """The parts of ``rel`` if it is a plain relative ``/``-separated name (no ``..``, ``.``, empty
    part, backslash, NUL or absolute path), else ``None``."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel or "\0" in rel:
        return None
    parts = tuple(rel.split("/"))
    if any(p in ("", ".", "..") for p in parts):
        return None
    return parts


def _inside(folder: Path, rel: str) -> Path | None:
    """``folder / rel`` if ``rel`` is a plain relative name that reaches a place inside ``folder``
    without passing through a symbolic link (the last part may be anything), else ``None``."""
    parts = _plain_parts(rel)
    if parts is None:
        return None
    here = folder
    for part in parts[:-1]:
        here = here / part
        if os.path.islink(here):
            return None
    return folder.joinpath(*parts)


def _file_check(path: Path) -> tuple[int, str] | None:
    """``(size, sha256)`` of a regular file reached without following a symbolic link."""
    import hashlib

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        h = hashlib.sha256()
        with os.fdopen(fd, "rb", closefd=False) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return st.st_size, h.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def _entries(folder: Path) -> list[str]:
    """Every file (and empty folder) below ``folder``, relative; folders holding files are implied."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel_root = Path(root).relative_to(folder)
        if root != str(folder) and not dirs and not files:
            out.append(rel_root.as_posix())
        for name in files:
            rel = (rel_root / name).as_posix()
            if rel != OUTPUT_MARKER:
                out.append(rel)
    return out


def _remove_proven(folder: Path, checks: dict[str, tuple[int, str]]) -> list[str]:
    """Remove the files of ``checks`` that are still what xmtag wrote; return the names kept."""
    kept = []
    dirs = set()
    for rel, want in sorted(checks.items()):
        p = _inside(folder, rel)
        if p is None:
            kept.append(rel)
            continue
        if not os.path.lexists(p):
            continue
        if _file_check(p) != tuple(want):  # changed, replaced, a link or not a file: not ours any more
            kept.append(rel)
            continue
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
        for parent in Path(rel).parents:
            if str(parent) != ".":
                dirs.add(folder / parent)
    for d in sorted(dirs, key=lambda q: len(q.parts), reverse=True):  # deepest first
        if not d.is_symlink():
            with contextlib.suppress(OSError):
                d.rmdir()  # only if now empty
    if kept:
        logger.info(
            "Kept %d file(s) in %s that a previous run listed but that changed since: %s",
            len(kept),
            folder,
            ", ".join(kept[:5]),
        )
    return kept


def check_output_outside_inputs(
    out: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None]
) -> None:
    """Raise :class:`~xmtag.errors.OutputError` if the folder ``out`` is, contains or lies inside
    one of ``inputs`` (symbolic links resolved); ``None`` inputs are skipped.

    Examples
    --------
    >>> check_output_outside_inputs("/data/out", ["/data/song.wav"])  # beside: fine
    >>> check_output_outside_inputs("/data", ["/data/stems/drums.wav"])
    Traceback (most recent call last):
    ...
    xmtag.errors.OutputError: Output folder '/data' contains the input '/data/stems/drums.wav': ...
    """
    real_out = Path(os.path.realpath(out))
    for item in inputs:
        if item is None:
            continue
        real_in = Path(os.path.realpath(item))
        if real_in == real_out or real_out in real_in.parents or real_in in real_out.parents:
            where = "is" if real_in == real_out else "contains"
            if real_in in real_out.parents:
                where = "is inside"
            raise OutputError(
                f"Output folder {str(out)!r} {where} the input {str(item)!r}: xmtag would write (and on "
                "a rerun clean up) beside your own files. Choose an output folder (--out) outside the "
                "inputs, e.g. a new folder next to them."
            )


def output_path(folder: str | os.PathLike[str], rel: str) -> Path:
    """``folder / rel`` for a file xmtag is about to write into an output folder, its subfolders
    created; refused if any part of it inside ``folder`` is a symbolic link (writing would land
    outside the folder, on a file of the user's).

    Raises
    ------
    OutputError
        Naming the link and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> output_path(d, "plots/heatmap.png").parent.is_dir()
    True
    """
    base = Path(folder)
    parts = _plain_parts(rel)
    if parts is None:
        raise OutputError(f"Cannot write {rel!r} into {str(base)!r}: not a plain relative file name.")
    here = base
    for i, part in enumerate(parts):
        here = here / part
        if os.path.islink(here):
            raise OutputError(
                f"Cannot write {str(base / rel)!r}: {str(here)!r} is a symbolic link, and xmtag does not "
                "write through links out of its output folder. Remove the link or choose another "
                "output folder."
            )
        if i < len(parts) - 1:
            if here.exists() and not here.is_dir():
                raise OutputError(f"Cannot write {str(base / rel)!r}: {str(here)!r} is a file, not a folder.")
            try:
                here.mkdir(exist_ok=True)
            except OSError as exc:
                raise OutputError(f"Cannot create the folder {str(here)!r}: {exc.strerror or exc}.") from exc
    return here


def make_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create a folder for outputs (with its parents), or refuse clearly: a file there, no permission.

    Used by :func:`prepare_output_dir` (what ``xmtag explain`` writes) and ``Stems.save``.

    Raises
    ------
    OutputError
        If the path is a file, or the folder cannot be created or written into.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> make_output_dir(pathlib.Path(tempfile.mkdtemp()) / "a" / "b").is_dir()
    True
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"Output folder {str(out)!r} is a file. Choose another output folder (--out): a file is "
            "not a folder."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"Cannot create output folder {str(out)!r}: {exc.strerror or exc}. Choose a writable location."
        ) from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(
            f"Cannot write into output folder {str(out)!r}: permission denied. Choose a writable location."
        )
    return out


def prepare_output_dir(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    owned: Iterable[str] = DEFAULT_OWNED,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Create an output folder, or make an earlier xmtag output there ready to be replaced.

    - A missing or empty folder is created / used as it is.
    - A folder with xmtag's marker (``.xmtag-output.json``): the files the previous run wrote
      there are removed (so a rerun never leaves the last song's plots beside the new ones),
      but only those whose size and SHA-256 still match what the marker recorded, reached
      without following a symbolic link; files the user added are kept. A listed file that was
      changed or replaced since is never deleted: the folder is refused (``force=True`` writes
      over it).
    - Any other non-empty folder: an :class:`~xmtag.errors.OutputError`, unless ``force=True``,
      which writes into it without removing anything.
    - A folder that is, contains or lies inside one of ``inputs``: an ``OutputError`` before
      anything is created or removed.

    Call :func:`record_outputs` with the files written once the run is done.

    Parameters
    ----------
    path : str or os.PathLike
        The output folder.
    force : bool
        Write into a non-empty folder that xmtag did not write (nothing is deleted).
    owned : iterable of str
        Glob patterns of the files this kind of output writes (kept for compatibility; a folder
        without the marker is never cleaned, since nothing proves xmtag wrote its files).
    inputs : iterable of path
        The run's inputs (audio files, stem folders): the output folder must not hold them.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    OutputError
        If the path is a file, cannot be created, is a non-empty folder that is not an xmtag
        output (without ``force``), or contains or lies inside an input.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = prepare_output_dir(pathlib.Path(tempfile.mkdtemp()) / "run")
    >>> _ = (out / "report.html").write_text("<html>")
    >>> _ = record_outputs(out, [out / "report.html"])
    >>> sorted(p.name for p in prepare_output_dir(out).iterdir())  # the old report is gone
    []
    """
    if inputs:
        check_output_outside_inputs(path, inputs)
    out = make_output_dir(path)
    proven = _read_marker(out)
    if proven is not None:
        changed = [
            rel
            for rel, want in sorted(proven.items())
            if (p := _inside(out, rel)) is not None and os.path.lexists(p) and _file_check(p) != tuple(want)
        ]
        if changed and not force:
            shown = ", ".join(changed[:5]) + (", ..." if len(changed) > 5 else "")
            raise OutputError(
                f"Output folder {str(out)!r} holds files an earlier xmtag run wrote that were changed or "
                f"replaced since ({shown}); xmtag will not overwrite them. Move them elsewhere, choose "
                "another output folder, or pass --force (force=True) to write the new files over them."
            )
        _remove_proven(out, proven)
        with contextlib.suppress(FileNotFoundError):
            (out / OUTPUT_MARKER).unlink()
        return out
    present = _entries(out)
    if not present or force:
        return out
    shown = ", ".join(sorted(present)[:5]) + (", ..." if len(present) > 5 else "")
    raise OutputError(
        f"Output folder {str(out)!r} is not empty ({shown}) and was not written by xmtag (it has no "
        f"{OUTPUT_MARKER}). Choose a new or empty folder, or pass --force (force=True) to write into "
        "it anyway (nothing there is deleted)."
    )


def record_outputs(folder: str | os.PathLike[str], files: Iterable[str | os.PathLike[str]]) -> Path:
    """Write the output-folder marker listing ``files`` (paths inside ``folder``); returns its path.

    The marker records each file's size and SHA-256; the next :func:`prepare_output_dir` on this
    folder removes exactly those of these files that still match.

    Raises
    ------
    OutputError
        If the marker cannot be written.
    """
    from ._version import __version__

    out = Path(folder)
    names = []
    checks = {}
    for f in files:
        rel = Path(os.path.relpath(os.path.abspath(f), os.path.abspath(out))).as_posix()
        p = _inside(out, rel)
        if p is not None and rel != OUTPUT_MARKER:  # outside the folder: not ours to clean
            names.append(rel)
            check = _file_check(p)
            if check is not None:
                checks[rel] = {"size": check[0], "sha256": check[1]}
    doc = {"written_by": f"xmtag {__version__}", "files": sorted(set(names)), "checks": checks}
    return atomic_write_text(out / OUTPUT_MARKER, json.dumps(doc, indent=1, sort_keys=True) + "\n")
