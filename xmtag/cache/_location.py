"""Where the cache lives: ``$XMTAG_CACHE``, else the user cache folder (:func:`cache_dir`)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ['cache_dir']


def cache_dir() -> Path:
    """The cache root: ``$XMTAG_CACHE`` or the platform's user cache folder.

    Returns
    -------
    pathlib.Path
        The folder (not created here).

    Examples
    --------
    >>> import os
    >>> os.environ.get("XMTAG_CACHE") is None or str(cache_dir()) == os.environ["XMTAG_CACHE"]
    True
    """
    env = os.environ.get("XMTAG_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("xmtag", appauthor=False))
