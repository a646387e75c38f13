"""Exact game-theoretic attributions on coalition values indexed by bitmask.

A *game* with ``n`` players is an array ``values`` of shape ``(2**n, ...)``: row ``m`` is the
value of the coalition whose members are the set bits of ``m`` (player ``i`` is in ``m`` iff
``(m >> i) & 1``), row ``0`` is the empty coalition and row ``2**n - 1`` the grand coalition.
Any trailing shape (one value per tag, per segment and tag, ...) is carried through, so all
tags are attributed in one call.

Every function here is a fixed linear map of the values. Shapley and Banzhaf values are one
product with a coefficient matrix built once per ``n`` and cached; the Möbius transform and
the interaction index are ``n`` vectorised butterfly passes over the whole array. There is no
Python loop over coalitions and no JIT warm-up (``n = 12`` with 50 outputs takes about a
millisecond). Computation is in float64.

Functions
---------
exact
    Shapley values, ``(2**n, ...) -> (n, ...)``.
banzhaf
    Banzhaf values, ``(2**n, ...) -> (n, ...)``.
interactions
    Pairwise Shapley interaction index (Grabisch 1997), ``(2**n, ...) -> (n, n, ...)``.
mobius
    Möbius transform (Harsanyi dividends), ``(2**n, ...) -> (2**n, ...)``.
segments
    Time-resolved Shapley values of (player, segment) pairs from per-segment games.

At most :data:`MAX_PLAYERS` players (``2**16 = 65,536`` coalitions) are supported; larger
games raise :class:`~xmtag.errors.InvalidGameError` and are the job of the sampling
estimators in :mod:`xmtag.attribution.estimators`.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from ..errors import InvalidGameError
from ._methods import EXACT_MAX_PLAYERS

__all__ = [
    "MAX_PLAYERS",
    "exact",
    "banzhaf",
    "interactions",
    "mobius",
    "segments",
    "null_players",
    "check_game",
    "n_players",
    "membership",
]

#: Largest number of players the exact functions accept (``2**16`` coalitions).
MAX_PLAYERS = EXACT_MAX_PLAYERS


def membership(masks: np.ndarray | int, n: int) -> np.ndarray:
    """Boolean membership matrix of bitmask coalitions.

    Parameters
    ----------
    masks : numpy.ndarray or int
        Integer coalition masks, any shape.
    n : int
        Number of players.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape ``masks.shape + (n,)``; entry ``[..., i]`` says whether player
        ``i`` is in the coalition.

    Examples
    --------
    >>> membership(np.array([0, 5]), 3).astype(int)
    array([[0, 0, 0],
           [1, 0, 1]])
    """
    masks = np.asarray(masks, dtype=np.int64)
    return ((masks[..., np.newaxis] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)


def n_players(values: np.ndarray) -> int:
    """Number of players of a game given its coalition values ``(2**n, ...)``.

    Parameters
    ----------
    values : numpy.ndarray
        ``(2**n, ...)`` coalition values.

    Returns
    -------
    int
        ``n``.

    Raises
    ------
    InvalidGameError
        If the first axis is not a power of two of at least 2.

    Examples
    --------
    >>> n_players(np.zeros((8, 5)))
    3
    """
    shape = np.shape(values)
    if len(shape) == 0:
        raise InvalidGameError(
            "Coalition values must be an array of shape (2**n, ...) indexed by bitmask; got a scalar."
        )
    rows = int(shape[0])
    if rows < 2 or rows & (rows - 1):
        raise InvalidGameError(
            f"Coalition values must have 2**n rows (one per coalition bitmask, n >= 1 players); "
            f"got an array of shape {tuple(shape)} whose first axis ({rows}) is not a power of two >= 2."
        )
    return rows.bit_length() - 1


def check_game(values: np.ndarray, name: str = "values", max_players: int | None = MAX_PLAYERS) -> np.ndarray:
    """Validate coalition values and return them as a float64 array.

    Parameters
    ----------
    values : array_like
        Coalition values ``(2**n, ...)`` indexed by bitmask.
    name : str
        How the values are called in error messages.
    max_players : int or None
        Largest accepted ``n`` (default :data:`MAX_PLAYERS`); ``None`` for no limit.

    Returns
    -------
    numpy.ndarray
        float64 array of the same shape (no copy when already float64).

    Raises
    ------
    InvalidGameError
        For a first axis that is not a power of two, too many players, a non-numeric or
        complex dtype, or NaN/inf values (the message names the first bad coalition).

    Examples
    --------
    >>> check_game([0.0, 1.0, 2.0, 4.0]).dtype
    dtype('float64')
    """
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise InvalidGameError(f"{name}: cannot be read as a numeric array ({exc}).") from exc
    if arr.dtype.kind not in "fiub":
        raise InvalidGameError(
            f"{name}: coalition values must be real numbers, got dtype {arr.dtype}. "
            "Pass a float array of shape (2**n, ...)."
        )
    try:
        n = n_players(arr)
    except InvalidGameError as exc:
        raise InvalidGameError(f"{name}: {exc}") from None
    if max_players is not None and n > max_players:
        raise InvalidGameError(
            f"{name}: {n} players ({2**n:,} coalitions) is above the supported maximum of "
            f"{max_players} for exact values. Use the sampling estimators in xmtag.attribution.estimators "
            "(permutation or kernel) for larger games."
        )
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        mask = int(bad[0])
        members = [i for i in range(n) if (mask >> i) & 1]
        where = f" at output index {tuple(int(b) for b in bad[1:])}" if arr.ndim > 1 else ""
        count = int((~finite).sum())
        raise InvalidGameError(
            f"{name}: {count} coalition value(s) are NaN or infinite; the first is coalition mask "
            f"{mask} (players {members}){where}. The tagger or value function produced non-finite "
            "output: check it on that mix."
        )
    return arr


@cache
def _shapley_matrix(n: int) -> np.ndarray:
    """``C`` of shape ``(n, 2**n)`` with ``phi = C @ values``.

    ``C[i, T] = w(|T| - 1)`` if ``i`` is in ``T`` else ``-w(|T|)``, where
    ``w(s) = s! (n - 1 - s)! / n! = 1 / (n * comb(n - 1, s))``.
    """
    w = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)] + [0.0])
    bits = membership(np.arange(2**n), n).T  # (n, 2**n)
    size = bits.sum(axis=0)
    c = np.where(bits, w[np.maximum(size - 1, 0)], -w[size])
    c.setflags(write=False)
    return c


@cache
def _banzhaf_matrix(n: int) -> np.ndarray:
    bits = membership(np.arange(2**n), n).T
    c = np.where(bits, 1.0, -1.0) / 2.0 ** (n - 1)
    c.setflags(write=False)
    return c


@cache
def _membership_float(n: int) -> tuple[np.ndarray, np.ndarray]:
    bits = membership(np.arange(2**n), n).astype(np.float64)  # (2**n, n)
    size = bits.sum(axis=1)
    bits.setflags(write=False)
    size.setflags(write=False)
    return bits, size


def _apply(matrix: np.ndarray, values: np.ndarray) -> np.ndarray:
    # einsum without BLAS: single-threaded, so a busy machine does not stall it in a BLAS thread
    # pool (OpenBLAS threading measured 10-100x slower than this on a loaded 2-core machine).
    flat = values.reshape(values.shape[0], -1)
    return np.einsum("ij,jk->ik", matrix, flat).reshape((matrix.shape[0], *values.shape[1:]))


def exact(values: np.ndarray) -> np.ndarray:
    r"""Exact Shapley values of a game given by its coalition values.

    .. math:: \phi_i = \sum_{S \subseteq N \setminus \{i\}}
              \frac{|S|!\,(n-|S|-1)!}{n!}\,\bigl(v(S \cup \{i\}) - v(S)\bigr)

    computed as one product with a coefficient matrix cached per ``n``.

    Parameters
    ----------
    values : array_like
        Coalition values ``(2**n, ...)`` indexed by bitmask, ``1 <= n <=`` :data:`MAX_PLAYERS`.

    Returns
    -------
    numpy.ndarray
        float64 ``(n, ...)``. Efficiency holds: ``exact(v).sum(0) == v[-1] - v[0]`` (to rounding).

    Raises
    ------
    InvalidGameError
        If the first axis is not a power of two, ``n`` is above :data:`MAX_PLAYERS`, or a
        value is NaN/inf.

    Examples
    --------
    >>> v = np.array([0.0, 1.0, 2.0, 4.0])  # v({}), v({0}), v({1}), v({0, 1})
    >>> exact(v)
    array([1.5, 2.5])
    >>> exact(np.zeros((8, 50))).shape  # 3 players, 50 tags
    (3, 50)
    """
    v = check_game(values)
    return _zero_null(_apply(_shapley_matrix(n_players(v)), v), v)


def banzhaf(values: np.ndarray) -> np.ndarray:
    r"""Banzhaf values: the mean marginal contribution over all coalitions without ``i``.

    .. math:: \beta_i = 2^{-(n-1)} \sum_{S \subseteq N \setminus \{i\}} \bigl(v(S \cup \{i\}) - v(S)\bigr)

    Parameters
    ----------
    values : array_like
        Coalition values ``(2**n, ...)`` indexed by bitmask.

    Returns
    -------
    numpy.ndarray
        float64 ``(n, ...)``. Unlike Shapley values they need not sum to ``v[-1] - v[0]``.

    Raises
    ------
    InvalidGameError
        As for :func:`exact`.

    Examples
    --------
    >>> banzhaf(np.array([0.0, 1.0, 2.0, 4.0]))
    array([1.5, 2.5])
    >>> banzhaf(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))  # unanimity game of 3
    array([0.25, 0.25, 0.25])
    """
    v = check_game(values)
    return _apply(_banzhaf_matrix(n_players(v)), v)


def mobius(values: np.ndarray) -> np.ndarray:
    r"""Möbius transform (Harsanyi dividends) of a game.

    .. math:: m(T) = \sum_{S \subseteq T} (-1)^{|T| - |S|} v(S),
              \qquad v(T) = \sum_{S \subseteq T} m(S)

    Computed with ``n`` vectorised butterfly passes (``O(n 2^n)``).

    Parameters
    ----------
    values : array_like
        Coalition values ``(2**n, ...)`` indexed by bitmask.

    Returns
    -------
    numpy.ndarray
        float64 ``(2**n, ...)`` dividends indexed by bitmask; ``m[0] == v[0]``.

    Raises
    ------
    InvalidGameError
        As for :func:`exact`.

    Examples
    --------
    >>> mobius(np.array([0.0, 1.0, 2.0, 4.0]))  # the pair adds 1 beyond 1 + 2
    array([0., 1., 2., 1.])
    """
    v = check_game(values)
    n = n_players(v)
    m = v.reshape(v.shape[0], -1).copy()
    r = m.shape[1]
    for i in range(n):
        view = m.reshape(2 ** (n - 1 - i), 2, 2**i, r)
        view[:, 1] -= view[:, 0]
    return m.reshape(v.shape)


def interactions(values: np.ndarray) -> np.ndarray:
    r"""Pairwise Shapley interaction index (Grabisch 1997) of every pair of players.

    For ``i != j``:

    .. math:: I_{ij} = \sum_{S \subseteq N \setminus \{i, j\}} \frac{|S|!\,(n-|S|-2)!}{(n-1)!}
              \bigl(v(S \cup \{i,j\}) - v(S \cup \{i\}) - v(S \cup \{j\}) + v(S)\bigr)
              = \sum_{T \supseteq \{i, j\}} \frac{m(T)}{|T| - 1}

    with ``m`` the Möbius transform. Positive means the two players together add more than
    their separate contributions (synergy), negative means they are partly redundant.

    **Diagonal.** ``I[i, i]`` is the Shapley value of ``i`` (the Grabisch index of the singleton
    ``{i}``), so ``np.diagonal(I)`` equals :func:`exact`. This differs from the convention of
    ``shap``'s TreeExplainer interaction values, which split each pair's interaction in half
    across ``[i, j]`` and ``[j, i]`` and put a main effect on the diagonal so that rows sum to
    the Shapley values; convert with ``off = I / 2`` off the diagonal and
    ``main_i = phi_i - sum_{j != i} I_ij / 2``.

    Parameters
    ----------
    values : array_like
        Coalition values ``(2**n, ...)`` indexed by bitmask.

    Returns
    -------
    numpy.ndarray
        float64 ``(n, n, ...)``, symmetric in the first two axes.

    Raises
    ------
    InvalidGameError
        As for :func:`exact`.

    Examples
    --------
    >>> I = interactions(np.array([0.0, 1.0, 2.0, 4.0]))
    >>> I
    array([[1.5, 1. ],
           [1. , 2.5]])
    """
    v = check_game(values)
    n = n_players(v)
    flat = v.reshape(v.shape[0], -1)
    _, size = _membership_float(n)
    scale = np.zeros_like(size)
    scale[size >= 2] = 1.0 / (size[size >= 2] - 1.0)
    z = mobius(flat) * scale[:, np.newaxis]
    r = z.shape[1]
    for i in range(n):  # superset sums z[S] = sum_{T ⊇ S} m(T) / (|T| - 1): n vectorised passes
        view = z.reshape(2 ** (n - 1 - i), 2, 2**i, r)
        view[:, 0] += view[:, 1]
    pair = np.left_shift(1, np.arange(n))
    out = z[pair[:, np.newaxis] | pair[np.newaxis, :]]  # (n, n, R): I_ij = z[{i, j}]
    idx = np.arange(n)
    out[idx, idx] = _apply(_shapley_matrix(n), flat)
    null = null_players(flat)  # (n, R)
    for i in np.flatnonzero(null.any(axis=1)):
        out[i, :, null[i]] = 0.0
        out[:, i, null[i]] = 0.0
    return out.reshape((n, n, *v.shape[1:]))


def null_players(values: np.ndarray) -> np.ndarray:
    """Which players are null (never change the value), compared bit for bit.

    A null player, such as a stem of digital silence whose mixes are identical to the
    mixes without it, has Shapley value and interactions exactly 0 (the *dummy* axiom).
    :func:`exact` and :func:`interactions` set those entries to exactly 0 instead of the
    ~1e-17 rounding a matrix product leaves.

    Parameters
    ----------
    values : array_like
        Coalition values ``(2**n, ...)`` indexed by bitmask.

    Returns
    -------
    numpy.ndarray
        bool ``(n, ...)``: entry ``[i, ...]`` is True where player ``i`` is null for that output.

    Examples
    --------
    >>> null_players(np.array([0.0, 1.0, 0.0, 1.0]))  # player 1 changes nothing
    array([False,  True])
    """
    v = np.asarray(values)
    n = n_players(v)
    masks = np.arange(2**n)
    out = np.empty((n, *v.shape[1:]), dtype=bool)
    for i in range(n):
        without = masks[((masks >> i) & 1) == 0]
        out[i] = (v[without | (1 << i)] == v[without]).all(axis=0)
    return out


def _zero_null(phi: np.ndarray, v: np.ndarray) -> np.ndarray:
    null = null_players(v)
    if null.any():
        phi[null] = 0.0
    return phi


def segments(segment_values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    r"""Exact Shapley values of (player, segment) pairs from per-segment games.

    Exact for the (player, segment) game only when each segment's output depends on that
    segment's players alone (patches without context, per-segment scores). For a tagger whose
    patches see context use :meth:`xmtag.coalitions.CoalitionValues.segment_attribution`, which
    solves the segment-boundary patches exactly.

    With a clip game that is a weighted sum of per-segment games,
    ``v(T) = sum_k w_k g_k(T ∩ segment k)``, where ``g_k`` only sees the players' segment
    ``k``, each (player, segment) pair is a dummy in every other segment's game, and Shapley
    values are linear; hence the value of pair ``(i, k)`` in the ``n * K`` player game is
    ``w_k * phi_i(g_k)``. All ``K`` games come from the same ``2**n`` coalitions.

    Parameters
    ----------
    segment_values : array_like
        ``(2**n, K, ...)``: ``segment_values[m, k]`` is ``g_k`` of coalition mask ``m``.
    weights : array_like
        ``(K,)`` non-negative, summing to 1 (e.g. the fraction of patches in each segment).

    Returns
    -------
    numpy.ndarray
        float64 ``(n, K, ...)``. Its sum over ``K`` is ``exact`` of the clip game
        ``sum_k w_k g_k``.

    Raises
    ------
    InvalidGameError
        For invalid segment values (as for :func:`exact`), or weights of the wrong shape,
        negative, non-finite or not summing to 1.

    Examples
    --------
    >>> g = np.array([[0.0, 0.0], [1.0, 3.0], [2.0, 0.0], [4.0, 3.0]])  # (2**2, K=2)
    >>> segments(g, [0.5, 0.5])
    array([[0.75, 1.5 ],
           [1.25, 0.  ]])
    """
    g = check_game(segment_values, name="segment_values")
    if g.ndim < 2:
        raise InvalidGameError(
            f"segment_values must be shaped (2**n, K, ...) with one game per segment; got shape {g.shape}."
        )
    w = np.asarray(weights, dtype=np.float64)
    k = g.shape[1]
    if w.shape != (k,):
        raise InvalidGameError(
            f"weights must have shape ({k},), one per segment of segment_values {g.shape}; got {w.shape}."
        )
    if not np.isfinite(w).all() or (w < 0).any() or abs(w.sum() - 1.0) > 1e-6:
        raise InvalidGameError(
            f"weights must be finite, non-negative and sum to 1 (the share of the clip in each "
            f"segment); got {w.tolist()} (sum {w.sum():.9g})."
        )
    phi = exact(g)  # (n, K, ...)
    return phi * w.reshape((1, k) + (1,) * (g.ndim - 2))
