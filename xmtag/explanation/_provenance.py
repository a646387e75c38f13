"""Where an explanation came from: the typed provenance record of an :class:`~xmtag.Explanation`.

Plots, reports, tables and the file format read these fields by name instead of digging in a
free-form dictionary. Files written before the record existed (format version 1, a
``metadata`` dictionary) load through :meth:`Provenance.from_dict`, which understands both.

Examples
--------
>>> p = Provenance(method="permutation", budget=1200, tagger={"name": "musicnn-msd"})
>>> p.tagger_name, p.units
('musicnn-msd', 'probability')
>>> Provenance.from_dict(p.to_dict()) == p
True
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Provenance", "json_safe", "versions"]

#: Field names of the record (the rest of a legacy metadata dict goes into ``extra``).
_FIELDS = (
    "source",
    "tagger",
    "separator",
    "method",
    "budget",
    "segments",
    "bands",
    "baseline",
    "units",
    "created",
    "versions",
)


def json_safe(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths and tuples into JSON types (recursively)."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # "inf", "-inf", "nan": JSON has no such numbers
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def versions() -> dict[str, str]:
    """Versions of xmtag and of the libraries whose numbers an explanation depends on."""
    import importlib.metadata

    from .._version import __version__

    out = {"xmtag": __version__, "numpy": np.__version__}
    for dist in ("torch", "shap", "demucs"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Provenance:
    """How an explanation was made.

    Attributes
    ----------
    source : dict or None
        What was explained: ``{"kind": "file" | "folder" | "stems" | "scores", "path": ...}``.
    tagger : dict or None
        ``{"name", "sample_rate", "patch_length", "n_labels"}`` of the tagger.
    separator : dict or None
        ``{"name", "repr"}`` of the separator, when a mix was separated.
    method : str
        Attribution method (``exact``, ``banzhaf``, ``permutation``, ``kernel``, ``lime``, ``loo``).
    budget : int or None
        Tagger rows actually spent (``None`` when unknown, e.g. scores given as a table).
    segments : int or None
        Time segments, when asked for.
    bands : list of float or None
        Frequency-band edges in Hz, when players were split into bands.
    baseline : str
        What an absent stem becomes (``"silence"``, ``"noise"``).
    units : str
        Units of the tagger's outputs (``"probability"``, ``"logit"``, ...).
    created : str
        ISO 8601 UTC time of creation.
    versions : dict
        ``{"xmtag": ..., "numpy": ..., "torch": ...}``.
    extra : dict
        Everything else (audio hash and duration, timings, cache hits, ...), JSON-compatible.
    """

    source: dict[str, Any] | None = None
    tagger: dict[str, Any] | None = None
    separator: dict[str, Any] | None = None
    method: str = "exact"
    budget: int | None = None
    segments: int | None = None
    bands: list[float] | None = None
    baseline: str = "silence"
    units: str = "probability"
    created: str = field(default_factory=_now)
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tagger_name(self) -> str | None:
        """The tagger's name, if known."""
        t = self.tagger
        if isinstance(t, Mapping):
            return t.get("name")
        return None if t is None else str(t)

    def replace(self, **changes: Any) -> Provenance:
        """A copy with some fields changed (``extra`` keys may be passed as ``extra={...}``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dictionary (the ``provenance`` of an explanation file)."""
        d = {name: getattr(self, name) for name in _FIELDS}
        d["extra"] = dict(self.extra)
        return json_safe(d)

    def as_metadata(self) -> dict[str, Any]:
        """The flat legacy view: the fields and ``extra``'s keys in one dictionary."""
        d = json_safe(dict(self.extra))
        d.update({k: v for k, v in self.to_dict().items() if k != "extra"})
        d.setdefault("xmtag_version", (self.versions or {}).get("xmtag"))
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Provenance:
        """Read a record written by :meth:`to_dict`, or a legacy flat ``metadata`` dictionary.

        Unknown keys of a legacy dictionary go into ``extra``; malformed field values are
        dropped to ``extra`` rather than trusted (a tampered file cannot inject a wrong type).
        """
        if d is None:
            return cls(created="")
        if not isinstance(d, Mapping):
            return cls(created="", extra={"metadata": json_safe(d)})
        extra = dict(d.get("extra") or {}) if isinstance(d.get("extra"), Mapping) else {}
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key == "extra":
                continue
            if key in _FIELDS and _valid(key, value):
                kwargs[key] = value
            else:
                extra[key] = value
        if "versions" not in kwargs and isinstance(d.get("xmtag_version"), str):
            kwargs["versions"] = {"xmtag": d["xmtag_version"]}
        kwargs.setdefault("created", "")
        extra.pop("xmtag_version", None)
        return cls(extra=json_safe(extra), **kwargs)


def _valid(key: str, value: Any) -> bool:
    if key in ("source", "tagger", "separator"):
        return value is None or isinstance(value, Mapping)
    if key in ("method", "baseline", "units", "created"):
        return isinstance(value, str)
    if key in ("budget", "segments"):
        return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
    if key == "bands":
        return value is None or (isinstance(value, list) and all(isinstance(x, (int, float)) for x in value))
    if key == "versions":
        return isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values())
    return False
