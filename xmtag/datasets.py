"""Example data bundled with xmtag.

The demo song ("Stem Cell Blues", 26 s, five stems rendered by the project; see
``xmtag/data/demo/README.md`` and its ``LICENSE``) is what ``xmtag demo`` explains and what the
documentation's examples use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AudioFileNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from .separation import Stems

__all__ = ["demo_path", "load_demo"]


def demo_path() -> Path:
    """The folder of the bundled demo song's stems (see its ``README.md`` and ``LICENSE``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    AudioFileNotFoundError
        If the installation lacks the demo files.

    Examples
    --------
    >>> sorted(p.name for p in demo_path().glob("*.ogg"))
    ['bass.ogg', 'drums.ogg', 'guitar.ogg', 'piano.ogg', 'saxophone.ogg']
    """
    from importlib.resources import files

    path = Path(str(files("xmtag") / "data" / "demo"))
    if not path.is_dir():
        raise AudioFileNotFoundError(
            f"The demo song is missing from the installation ({path}). Reinstall xmtag, or "
            "regenerate it with benchmarks/tools/make_demo_song.py."
        )
    return path


def load_demo() -> Stems:
    """The bundled demo song as :class:`xmtag.Stems` (26 s, 44.1 kHz stereo, five stems).

    Returns
    -------
    Stems
        Stems ``drums, bass, guitar, piano, saxophone``; the mixture is their sum.

    Raises
    ------
    AudioFileNotFoundError
        If the installation lacks the demo files.

    Examples
    --------
    >>> s = load_demo()
    >>> s.names, s.sr, round(s.duration, 2)
    (['drums', 'bass', 'guitar', 'piano', 'saxophone'], 44100, 26.0)
    """
    from .separation import Stems

    return Stems.from_folder(demo_path(), names=["drums", "bass", "guitar", "piano", "saxophone"])
