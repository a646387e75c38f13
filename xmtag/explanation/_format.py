"""The explanation file: one ZIP archive of a JSON header and NumPy arrays, read defensively.

:func:`save` writes (suffix ``.xmtag`` by convention), atomically (temporary file, then
rename), a ZIP archive that NumPy reads too (``numpy.load(path)`` lists its arrays):

``header.json``
    ``{"format": "xmtag.explanation", "format_version": 2, "xmtag_version": ..., "stems": [...],
    "labels": [...], "method": ..., "budget": ..., "arrays": {name: shape, ...},
    "provenance": {...}}``.
``<name>.npy``
    One ``.npy`` array per field present (``values``, ``base_values``, ``prediction``, and where
    present ``stderr``, ``coalition_values``, ``interactions``, ``segment_values``,
    ``segment_stderr``, ``segment_coalition_values``, ``segment_weights``, ``segment_bounds``,
    ``envelope``), in NumPy's own format, no pickles.

:func:`load` trusts nothing in the file: the header is size-limited and type-checked; every
array's shape follows from the header's stem and tag counts (and segment count), so its
uncompressed size is known before it is read, and decompression is streamed with that bound
(a small file cannot expand into gigabytes); dtypes must be float64 (float32 for the
envelope); values must be finite and consistent (:class:`~xmtag.Explanation` checks
efficiency). Version 1 files (a ``metadata`` dictionary instead of ``provenance``) load too.

The audio is not stored: an explanation loaded from a file finds its stems again through its
provenance's ``source`` when that folder still holds the same audio (checked by content hash),
or takes them from :meth:`~xmtag.Explanation.attach_audio`.

Examples
--------
>>> import os, tempfile
>>> from xmtag import Explanation
>>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
>>> path = save(e, os.path.join(tempfile.mkdtemp(), "a.xmtag"))
>>> load(path).values.ravel().round(2).tolist()
[0.7, 0.2]
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import limits
from .._files import atomic_path, check_input_file
from .._version import __version__
from ..errors import ExplanationFileError, InvalidGameError, XmtagError
from ._fields import ARRAY_FIELDS, explanation_class

if TYPE_CHECKING:  # pragma: no cover
    from ..separation import Stems

    Explanation = explanation_class()

__all__ = ["save", "load", "FORMAT_NAME", "FORMAT_VERSION", "MAX_HEADER_BYTES"]

logger = logging.getLogger(__name__)

#: ``format`` field of an explanation file's header.
FORMAT_NAME = "xmtag.explanation"
#: Version of the layout this xmtag writes; it reads this one and every older one.
FORMAT_VERSION = 2
#: Largest ``header.json`` accepted (names of thousands of tags fit in far less).
MAX_HEADER_BYTES = 4 << 20
#: Most players (coalitions are stored for at most this many; larger games have none).
_MAX_COALITION_PLAYERS = 24
_NPY_HEADER_SLACK = 4096  # bytes beyond the raw data that a .npy header may take

# field -> shape as a function of (n players, T tags, K segments, F envelope frames)
_SHAPES: dict[str, Any] = {
    "values": lambda n, t, k, f: (n, t),
    "base_values": lambda n, t, k, f: (t,),
    "prediction": lambda n, t, k, f: (t,),
    "stderr": lambda n, t, k, f: (n, t),
    "coalition_values": lambda n, t, k, f: (2**n, t),
    "interactions": lambda n, t, k, f: (n, n, t),
    "segment_values": lambda n, t, k, f: (n, k, t),
    "segment_stderr": lambda n, t, k, f: (n, k, t),
    "segment_coalition_values": lambda n, t, k, f: (2**n, k, t),
    "segment_weights": lambda n, t, k, f: (k,),
    "segment_bounds": lambda n, t, k, f: (k, 2),
    "envelope": lambda n, t, k, f: (2, f),
}


def save(expl: Explanation, path: str | os.PathLike[str]) -> Path:
    """Write an explanation to one file, atomically.

    Parameters
    ----------
    expl : Explanation
    path : str or os.PathLike
        Destination (conventionally ``*.xmtag``); its folder must exist.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    OutputError
        If the file cannot be written (the message names the folder; nothing is left under
        the final name).
    """

    arrays = {name: getattr(expl, name) for name in ARRAY_FIELDS if getattr(expl, name) is not None}
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "xmtag_version": __version__,
        "stems": list(expl.stems),
        "labels": list(expl.labels),
        "method": expl.method,
        "budget": expl.budget,
        "arrays": {name: list(arr.shape) for name, arr in sorted(arrays.items())},
        "provenance": expl.provenance.to_dict(),
    }
    path = Path(path)
    # The file is opened write-only here, not by zipfile (which tries read-write first): on a named
    # pipe that first try would open and close the pipe, and its reader would see an empty file.
    with (
        atomic_path(path) as tmp,
        open(tmp, "wb") as fh,
        zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        zf.writestr("header.json", json.dumps(header, indent=1, allow_nan=False))
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(f"{name}.npy", buf.getvalue())
    logger.info("Saved explanation to %s", path)
    return path


def _fail(p: Path, problem: str) -> ExplanationFileError:
    return ExplanationFileError(f"{str(p)!r}: {problem}")


def _read_member(zf: zipfile.ZipFile, p: Path, name: str, limit: int) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise _fail(
            p,
            f"the archive has no {name} although the header lists it; the file is damaged. "
            "Recompute it with xmtag.explain().",
        ) from None
    if info.file_size > limit:
        raise _fail(
            p,
            f"{name} declares {info.file_size:,} bytes, more than the {limit:,} its header "
            "allows; the file is damaged or was tampered with.",
        )
    with zf.open(info) as fh:
        data = fh.read(limit + 1)  # streamed: never more than limit + 1 bytes in memory
    if len(data) > limit:
        raise _fail(
            p,
            f"{name} expands beyond the {limit:,} bytes its header allows; the file is damaged "
            "or was tampered with.",
        )
    return data


def _header(zf: zipfile.ZipFile, p: Path) -> dict[str, Any]:
    if "header.json" not in zf.namelist():
        raise _fail(p, "a ZIP archive but not an xmtag explanation (no header.json).")
    raw = _read_member(zf, p, "header.json", MAX_HEADER_BYTES)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(p, f"its header.json is not valid JSON ({exc}); the file is damaged.") from None
    if not isinstance(header, dict):
        raise _fail(p, "its header.json is not a JSON object; the file is damaged.")
    if header.get("format") != FORMAT_NAME:
        raise _fail(
            p, f"not an xmtag explanation (format {header.get('format')!r}, expected {FORMAT_NAME!r})."
        )
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        by = header.get("xmtag_version", "unknown")
        fix = (
            f"Upgrade xmtag (this is {__version__}) to read it."
            if isinstance(version, int) and version > FORMAT_VERSION
            else "Recompute it with xmtag.explain()."
        )
        raise _fail(
            p,
            f"an explanation file of format version {version!r} (written by xmtag {by}); this "
            f"xmtag reads versions 1 to {FORMAT_VERSION}. {fix}",
        )
    for key in ("stems", "labels"):
        names = header.get(key)
        if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
            raise _fail(
                p,
                f"the header's {key!r} must be a non-empty list of names; got "
                f"{type(names).__name__}. The file is damaged.",
            )
        if len(set(names)) != len(names):
            raise _fail(p, f"the header repeats names in {key!r}; the file is damaged.")
        longest = max(names, key=len)
        if len(longest) > limits.MAX_NAME_CHARS:
            raise _fail(
                p,
                f"the header's {key!r} holds a name of {len(longest):,} characters "
                f"({longest[:40]!r}...), longer than names can be. {limits.how_to_raise('MAX_NAME_CHARS')}",
            )
    if len(header["stems"]) > 63:
        raise _fail(p, f"{len(header['stems'])} stems is more than an explanation can hold (63).")
    return header


def _array_names(header: dict[str, Any], p: Path) -> dict[str, list[int] | None]:

    arrays = header.get("arrays")
    if isinstance(arrays, list):  # version 1: a list of names
        arrays = {name: None for name in arrays}
    if not isinstance(arrays, dict):
        raise _fail(p, "the header's 'arrays' must list the arrays; the file is damaged.")
    for name in arrays:
        if name not in ARRAY_FIELDS:
            raise _fail(
                p, f"unknown array {name!r} in the header; the file is damaged or from a newer xmtag."
            )
    for name in ("values", "base_values", "prediction"):
        if name not in arrays:
            raise _fail(p, f"the {name!r} array is missing; the file is damaged.")
    return arrays


def _dim(arrays: dict[str, Any], name: str, axis: int, p: Path, limit: int) -> int:
    shape = arrays.get(name)
    if not isinstance(shape, list) or len(shape) <= axis:
        return -1
    k = shape[axis]
    if not isinstance(k, int) or isinstance(k, bool) or not 0 < k <= limit:
        raise _fail(p, f"the header gives {name} a size {k!r} out of range; the file is damaged.")
    return k


def _check_declared(p: Path, names: dict[str, Any], n: int, t: int, k: int, f: int) -> None:
    """Refuse a file whose header declares more array bytes than it can plausibly hold, before
    any array is read: at most ``MAX_EXPANSION_RATIO`` times the file's size (plus 32 MiB) and
    ``MAX_EXPLANATION_BYTES`` in all."""
    declared = 0
    for name in names:
        if name == "envelope":  # an envelope without a shape (version 1) is read with its own bound
            declared += 4 * 2 * f if f >= 0 else 0
        elif name.startswith("segment_") and k < 0:
            continue  # refused below: segments without a segment count
        else:
            declared += 8 * int(np.prod([int(x) for x in _SHAPES[name](n, t, max(k, 1), f)], dtype=object))
    size = p.stat().st_size
    plausible = size * limits.MAX_EXPANSION_RATIO + (32 << 20)
    if declared > limits.MAX_EXPLANATION_BYTES:
        raise _fail(
            p,
            f"its header declares {declared:,} bytes of arrays ({n} stems, {t} tags), more than an "
            f"explanation file may hold. {limits.how_to_raise('MAX_EXPLANATION_BYTES')}",
        )
    if declared > plausible:
        raise _fail(
            p,
            f"its header declares {declared:,} bytes of arrays in a file of {size:,} bytes: more than "
            f"{limits.MAX_EXPANSION_RATIO} times its size (plus 32 MiB), as only a ZIP bomb or a tampered "
            f"file does. {limits.how_to_raise('MAX_EXPANSION_RATIO')}",
        )


def _read_array(
    zf: zipfile.ZipFile,
    p: Path,
    name: str,
    shape: tuple[int, ...] | None,
    dtype: str,
    limit: int | None = None,
) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    if limit is None:  # the exact size when the shape is known; else the envelope of a 10-hour song
        limit = int(np.prod(shape)) * itemsize if shape is not None else 32 << 20
    limit += _NPY_HEADER_SLACK
    data = _read_member(zf, p, f"{name}.npy", limit)
    try:
        arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _fail(p, f"{name}.npy is not a readable NumPy array ({exc}); the file is damaged.") from None
    if arr.dtype != np.dtype(dtype):
        raise _fail(
            p, f"{name} has dtype {arr.dtype}, expected {dtype}; the file is damaged or tampered with."
        )
    if shape is not None and arr.shape != shape:
        raise _fail(
            p,
            f"{name} has shape {arr.shape}, expected {shape} for {p.name}'s stems and tags; "
            "the file is damaged or tampered with.",
        )
    if not np.isfinite(arr).all():
        raise _fail(p, f"{name} contains NaN or infinite values; the file is damaged or tampered with.")
    return arr


def load(path: str | os.PathLike[str], audio: Stems | None = None, cls: type | None = None) -> Explanation:
    """Read an explanation written by :func:`save` (any format version up to this one).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    audio : Stems, optional
        The stems' audio to attach (checked against the saved content hash).

    Returns
    -------
    Explanation

    Raises
    ------
    AudioFileNotFoundError
        If the file does not exist.
    ExplanationFileError
        If it is not an xmtag explanation, is truncated, damaged or tampered with (the message
        says which part), or was written in a newer format version.
    """
    Explanation = explanation_class()
    from ._provenance import Provenance

    cls = cls or Explanation
    p = check_input_file(path, "explanation file")
    try:
        with zipfile.ZipFile(p) as zf:
            header = _header(zf, p)
            names = _array_names(header, p)
            n, t = len(header["stems"]), len(header["labels"])
            k = max(
                _dim(names, "segment_values", 1, p, 1 << 16), _dim(names, "segment_weights", 0, p, 1 << 16)
            )
            f = _dim(names, "envelope", 1, p, 1 << 26)
            if (
                "coalition_values" in names or "segment_coalition_values" in names
            ) and n > _MAX_COALITION_PLAYERS:
                raise _fail(p, f"coalition values for {n} stems cannot be stored; the file is damaged.")
            arrays: dict[str, np.ndarray] = {}
            if k < 0 and "segment_weights" in names:  # version 1 lists no shapes: K from the weights
                w = _read_array(zf, p, "segment_weights", None, "float64", limit=(1 << 16) * 8)
                if w.ndim != 1 or not 0 < w.shape[0] <= 1 << 16:
                    raise _fail(p, f"segment_weights has shape {w.shape}; the file is damaged.")
                k = int(w.shape[0])
            _check_declared(p, names, n, t, k, f)
            for name in names:
                if name.startswith("segment_") and k < 0:
                    raise _fail(
                        p, f"{name} is present but the segment count is unknown; the file is damaged."
                    )
                if name == "envelope" and f < 0:
                    shape = None
                else:
                    shape = tuple(_SHAPES[name](n, t, k, f))
                arrays[name] = _read_array(zf, p, name, shape, "float32" if name == "envelope" else "float64")
    except zipfile.BadZipFile as exc:
        with open(p, "rb") as fh:
            magic = fh.read(4)
        if magic == b"PK\x03\x04":
            raise _fail(
                p,
                f"the archive is truncated or damaged ({exc}). Recompute it with "
                "xmtag.explain() or copy it again.",
            ) from None
        raise _fail(
            p,
            f"not an xmtag explanation file (not a ZIP archive: {exc}). Files written by "
            "Explanation.save() or `xmtag explain` are.",
        ) from None
    except (zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as exc:
        if isinstance(exc, XmtagError):
            raise
        raise _fail(
            p, f"the archive is damaged or truncated ({exc}). Recompute it with xmtag.explain()."
        ) from None
    version = header["format_version"]
    prov_raw = header.get("provenance") if version >= 2 else header.get("metadata")
    if version >= 2 and prov_raw is not None and not isinstance(prov_raw, dict):
        raise _fail(
            p,
            f"its header's 'provenance' is a {type(prov_raw).__name__}, not a JSON object; the file is "
            "damaged or was edited by hand. Recompute it with xmtag.explain(), or restore 'provenance' "
            "to the object xmtag wrote.",
        )
    provenance = Provenance.from_dict(prov_raw if isinstance(prov_raw, dict) else None)
    if version == 1 and not provenance.versions and isinstance(header.get("xmtag_version"), str):
        provenance = provenance.replace(versions={"xmtag": header["xmtag_version"]})
    method = header.get("method", "exact")
    budget = header.get("budget")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
        budget = None
    try:
        expl = cls(
            header["stems"],
            header["labels"],
            method=method if isinstance(method, str) else "?",
            budget=budget,
            provenance=provenance,
            **arrays,
        )
    except InvalidGameError as exc:
        raise _fail(p, f"holds inconsistent values: {exc}") from None
    except XmtagError as exc:  # e.g. an unknown method name
        raise _fail(p, f"has an invalid field: {exc}") from None
    if audio is not None:
        expl.attach_audio(audio)
    return expl
