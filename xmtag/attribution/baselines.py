"""Non-Shapley baselines for benchmark comparisons.

:func:`lime` reproduces audioLIME's explainer (Haunschmid, Manilow & Widmer 2020,
``audioLIME.lime_audio.LimeAudioExplainer`` with its defaults) on a value function over
coalition bitmasks:

1. ``n_samples`` random on/off vectors over the components, drawn exactly as audioLIME draws
   them (``RandomState(seed).randint(0, 2, ...)``); the first row is set to all-on (the
   explained input);
2. distance of each vector to the all-on vector by cosine distance
   (``sklearn.metrics.pairwise_distances``; the all-off vector has distance 1);
3. kernel weights ``sqrt(exp(-d**2 / kernel_width**2))`` with ``kernel_width = 0.25``;
4. a weighted ridge regression (``sklearn.linear_model.Ridge(alpha=1)`` with intercept) of the
   model outputs on the on/off vectors; its coefficients are the explanation.

audioLIME's default feature selection (``"auto"`` with ``num_features=100000``) keeps every
component, so no selection step is needed. One deliberate difference: the empty coalition is
digital silence (mask 0) like everywhere in xmtag, where audioLIME feeds a constant signal
at the input's minimum. Each distinct coalition is evaluated once (audioLIME re-runs the
model on duplicate vectors; the regression is the same).

LIME coefficients are *not* Shapley values: they need not sum to ``prediction - base`` and
depend on the kernel and the sample. They are here so that benchmarks can compare xmtag's
exact values with the method of the literature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _checks
from ..errors import InvalidGameError, require
from .estimators import ValueFunction, _check_n, _MemoGame

__all__ = ["LimeExplanation", "lime"]


@dataclass(frozen=True)
class LimeExplanation:
    """Result of :func:`lime`.

    Attributes
    ----------
    coefficients : numpy.ndarray
        ``(n, ...)`` ridge coefficient of each component (the explanation).
    intercept : numpy.ndarray
        ``(...)`` ridge intercept.
    score : numpy.ndarray
        ``(...)`` weighted R² of the surrogate on the sample, per output.
    local_prediction : numpy.ndarray
        ``(...)`` surrogate prediction for the all-on input.
    n_samples : int
        Perturbations drawn (including the all-on row).
    n_evaluations : int
        Distinct coalitions passed to the value function.
    """

    coefficients: np.ndarray
    intercept: np.ndarray
    score: np.ndarray
    local_prediction: np.ndarray
    n_samples: int
    n_evaluations: int


def lime(
    fn: ValueFunction,
    n: int,
    *,
    n_samples: int = 1000,
    seed: int = 0,
    kernel_width: float = 0.25,
    alpha: float = 1.0,
    batch_size: int = 64,
    progress: bool = False,
) -> LimeExplanation:
    """audioLIME-style LIME explanation of a game over ``n`` components.

    Parameters
    ----------
    fn : callable
        Value function ``masks (B,) int64 -> (B, ...)`` (see :mod:`xmtag.attribution.estimators`).
    n : int
        Number of components (e.g. stems, or stems × segments).
    n_samples : int
        Random perturbations, audioLIME's ``num_samples`` (default 1000; at least 2).
    seed : int
        Seed of ``numpy.random.RandomState`` (audioLIME's ``random_state``).
    kernel_width : float
        Width of the exponential kernel on cosine distance (audioLIME default 0.25).
    alpha : float
        Ridge regularisation (LIME default 1).
    batch_size : int
        Most masks per call of ``fn``.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    LimeExplanation

    Raises
    ------
    InvalidGameError
        For invalid arguments or a value function returning the wrong shape or NaN.

    Examples
    --------
    >>> def fn(masks):  # an additive game
    ...     return ((masks[:, None] >> np.arange(3)) & 1) @ np.array([1.0, 2.0, 3.0])
    >>> expl = lime(fn, 3, n_samples=200, seed=0)
    >>> expl.coefficients.shape, bool(expl.coefficients.argmax() == 2)
    ((3,), True)
    """
    linear_model = require("sklearn.linear_model", "core", "the LIME baseline (scikit-learn)")
    from sklearn.metrics import pairwise_distances, r2_score

    n = _check_n(n)
    n_samples = _checks.budget(n_samples, "n_samples", allow_none=False, error=InvalidGameError)
    if n_samples < 2:
        raise InvalidGameError(f"n_samples must be at least 2, got {n_samples}.")
    if not (np.isfinite(kernel_width) and kernel_width > 0):
        raise InvalidGameError(f"kernel_width must be a positive number, got {kernel_width!r}.")
    if not (np.isfinite(alpha) and alpha >= 0):
        raise InvalidGameError(f"alpha must be a non-negative number, got {alpha!r}.")

    random_state = np.random.RandomState(seed)
    data = random_state.randint(0, 2, n_samples * n).reshape((n_samples, n))
    data[0, :] = 1
    masks = data.astype(np.int64) @ np.left_shift(np.int64(1), np.arange(n, dtype=np.int64))
    game = _MemoGame(fn, n, batch_size, progress, "LIME")
    labels = game(masks)  # (S, R)
    out_shape = game.out_shape or ()

    distances = pairwise_distances(data, data[0].reshape(1, -1), metric="cosine").ravel()
    weights = np.sqrt(np.exp(-(distances**2) / kernel_width**2))
    model = linear_model.Ridge(alpha=alpha, fit_intercept=True)
    model.fit(data, labels, sample_weight=weights)
    coef = np.atleast_2d(model.coef_)  # (R, n)
    pred = model.predict(data).reshape(labels.shape)
    score = r2_score(labels, pred, sample_weight=weights, multioutput="raw_values")
    local = model.predict(data[:1]).reshape(-1)
    return LimeExplanation(
        coefficients=coef.T.reshape((n, *out_shape)),
        intercept=np.asarray(model.intercept_, dtype=np.float64).reshape(out_shape),
        score=np.asarray(score, dtype=np.float64).reshape(out_shape),
        local_prediction=local.reshape(out_shape),
        n_samples=n_samples,
        n_evaluations=game.n_evaluations,
    )
