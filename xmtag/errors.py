"""The exceptions xmtag raises for problems a user can cause.

Every such problem raises :class:`XmtagError` (or a subclass) with a message that
names the offending input and says what to do. Subclasses also inherit the matching
built-in exception, so ``except FileNotFoundError`` keeps working for callers that
do not know about xmtag.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = [
    "XmtagError",
    "AudioError",
    "AudioFileNotFoundError",
    "OutputError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "UnsafeModelFileError",
    "CacheError",
    "InvalidGameError",
    "TaggerError",
    "UnknownTagError",
    "CheckpointError",
    "ExplanationFileError",
    "CoalitionsUnavailableError",
    "require",
]


class XmtagError(Exception):
    """Base class of every error a user of xmtag can cause."""


class AudioError(XmtagError, ValueError):
    """Audio that cannot be read or is not usable (empty, corrupt, NaN, ...)."""


class AudioFileNotFoundError(XmtagError, FileNotFoundError):
    """An input path that does not exist or is not a file."""


class OutputError(XmtagError, OSError):
    """An output path that cannot be written."""


class MissingDependencyError(XmtagError, ImportError):
    """An optional dependency (an *extra*) is not installed."""


class ModelNotFoundError(XmtagError, FileNotFoundError):
    """Model weights that are neither cached nor downloadable."""


class UnsafeModelFileError(ModelNotFoundError):
    """A model file that would run code when loaded (a pickle needing more than plain weights):
    refused, never executed."""


class CacheError(XmtagError):
    """A cache directory that cannot be used."""


class InvalidGameError(XmtagError, ValueError):
    """Coalition values that do not form a valid cooperative game."""


class TaggerError(XmtagError, ValueError):
    """A tagger input or output of the wrong shape, type or content."""


class UnknownTagError(XmtagError, KeyError):
    """A tag name that is not among the tagger's labels."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(XmtagError, ValueError):
    """A TensorFlow checkpoint that is corrupt, truncated or in an unsupported layout."""


class ExplanationFileError(XmtagError, ValueError):
    """A file that is not a readable xmtag explanation (or of another format version)."""


class CoalitionsUnavailableError(XmtagError, ValueError):
    """A feature that needs the value of every coalition, on an explanation that has not all of them
    (a sampled method, or a score table with coalitions missing)."""


def require(module: str, extra: str, purpose: str | None = None) -> ModuleType:
    """Import an optional dependency or raise a :class:`MissingDependencyError`.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"faster_whisper"``.
    extra : str
        The xmtag extra that installs it, e.g. ``"speech"``.
    purpose : str, optional
        What the module is needed for, used in the message.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingDependencyError
        If the module cannot be imported.

    Examples
    --------
    >>> np = require("numpy", "core")
    >>> np.__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        if extra == "core":  # a required dependency: there is no extra to install
            dist = module.split(".")[0].replace("sklearn", "scikit-learn")
            raise MissingDependencyError(
                f"The package {module!r} is needed{what} and is a required dependency of xmtag, but it "
                f"cannot be imported ({exc}). Reinstall it: pip install --force-reinstall {dist}"
            ) from exc
        raise MissingDependencyError(
            f"The optional package {module!r} is needed{what} but is not installed "
            f"({exc}). Install it with: pip install 'xmtag[{extra}]'"
        ) from exc
