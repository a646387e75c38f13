"""Data files inside installed packages, found without importing them.

Several pretrained models ship inside PyPI packages whose own code xmtag does not use (their
metadata pulls what xmtag does not need, or importing them has side effects): xmtag finds the
package's folder through its import spec and reads the file.

Examples
--------
>>> package_dir("numpy").name
'numpy'
>>> package_dir("no_such_package_here") is None
True
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import MissingDependencyError, ModelNotFoundError

__all__ = ["package_dir", "package_file"]


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, or ``None`` when it is not installed (or is hidden,
    e.g. ``sys.modules[package] = None``). The package is not imported."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(package: str, *parts: str, missing: str, absent: str | None = None) -> Path:
    """``<package folder>/<parts...>``: a data file of an installed package.

    Raises
    ------
    MissingDependencyError
        With the message ``missing`` when the package is not installed.
    ModelNotFoundError
        With ``absent`` (or a default naming the file) when it is installed without the file.
    """
    folder = package_dir(package)
    if folder is None:
        raise MissingDependencyError(missing)
    path = folder.joinpath(*parts)
    if not path.is_file():
        raise ModelNotFoundError(
            absent
            or f"The installed {package} package has no {'/'.join(parts)} ({str(path)!r}); reinstall it."
        )
    return path
