"""Evaluate a tagger on the mix of every subset of stems.

:func:`evaluate` turns stems and a tagger into the coalition values that
:mod:`xmtag.attribution.shapley` attributes: row ``m`` of ``CoalitionValues.values`` is the tagger's
clip output for the sum of the stems whose bits are set in ``m`` (stem ``i`` is bit ``i``;
mask 0 is the baseline, digital silence by default, the last mask the sum of all stems).

How the work is bounded:

* each stem is downmixed to mono (channel mean) and resampled to the tagger's rate **once**;
* mixes are built lazily, ``batch_size`` clips' worth at a time, and discarded after the tagger
  has seen them, so memory is ``n`` stems plus one batch, never ``2**n`` full-length mixes;
* **only the passes that matter** (``reuse=True``, the default, for patch-wise taggers): a
  coalition's input to a patch depends only on the stems that are not digitally silent in that
  patch's receptive field, so each distinct patch input is evaluated once and shared by every
  coalition that agrees on it; exact, no threshold (:mod:`xmtag.coalitions._reuse`);
* the empty coalition (silence) is memoised per tagger object for the life of the process, so
  it is paid once across calls (:func:`clear_silence_cache` forgets it);
* a tqdm progress bar shows the passes (``progress=False`` hides it).

``CoalitionValues.n_tagger_rows`` counts what the tagger computed, in **rows**: one row is one
patch for a patch-wise tagger (a clip of ``P`` patches is ``P`` rows) and one clip otherwise;
``n_naive_rows`` is what evaluating every coalition as a whole clip costs (``2**n * P``).

**Baselines** (``baseline=``): ``"silence"`` (absent stems are digital zeros) or ``"noise"``, a
documented seeded noise floor added to every mix (:class:`NoiseFloor`: pink, -60 dBFS RMS,
seed 0), so the empty coalition is the noise floor and the prediction is the full mix plus it.

Mixes are sums of stems, added in stem order in float32 (after the noise floor, if any), so a
coalition's mix is the same bit for bit whatever the batch size; the values are then
batch-invariant whenever the tagger processes rows independently. A residual (``Stems.mixture``
minus the sum of the stems) is not a player: the grand coalition is the sum of the stems.

**Time-resolved values.** With ``segments=K`` and a patch-decomposable tagger
(``tagger.patch_length`` not ``None``; clip output = mean of per-patch outputs), the ``P`` whole
patches are split into ``K`` contiguous groups as evenly as possible (segments are therefore
always aligned to patch boundaries; the trailing samples after the last whole patch are ignored
by the tagger and belong to no segment), and ``segment_values[m, k]`` is the mean output over
group ``k``. ``CoalitionValues.segment_attribution()`` gives the exact Shapley (Banzhaf)
values of a (stem, segment) game, named by ``segment_players`` (:data:`SEGMENT_PLAYERS`). By
default (``"receptive"``) player ``(i, k)`` is stem ``i`` as heard by the patches of segment
``k``: each patch's whole input window, its declared ``patch_context`` included, belongs to the
patch's segment, so the game is the sum of the per-segment games and
:func:`xmtag.attribution.shapley.segments` gives its exact values at no extra tagger cost.
With ``segment_players="samples"`` player ``(i, k)`` is stem ``i``'s samples in segment ``k``;
for a tagger whose patches see ``patch_context`` samples before them (musicnn) each patch at a
segment start is then solved over the (stem, segment) players in its receptive field (up to
``2**(2n)`` extra windows per boundary; equal to brute force of the ``2**(n*K)`` game). Without
context the two games are the same. Taggers that are not
patch-decomposable, or declare ``patch_context = None``, raise a :class:`TaggerError` for
``segments`` here; :func:`estimate_segments` estimates their (stem, segment) values by
permutation sampling, with standard errors.

**Long recordings.** :func:`evaluate_blocks` gives the same values for a recording whose stems
do not fit in memory: blocks of patches, each stem read by sample range (from disk for a
:class:`~xmtag.separation.DiskStems`) and resampled with soxr's streaming resampler.

The subpackage is split by job: :func:`evaluate` (every coalition) in ``_evaluate``, the
block-by-block evaluation of a long recording in ``_blocks``, mixing and
baselines in ``_mix``, the patch-level reuse in ``_reuse``, the sampled value functions in
``_sampled`` and the export of coalition audio in ``_export``; every public name is importable
from here.
"""

from ..taggers import patch_context
from ._blocks import DEFAULT_BLOCK_PATCHES, evaluate_blocks
from ._evaluate import (
    SEGMENT_PLAYERS,
    CoalitionValues,
    evaluate,
    patch_segments,
    prepare_stems,
    segment_method,
)
from ._export import FORMATS, MANIFEST, coalition_name, export
from ._mix import BASELINES, NoiseFloor, clear_silence_cache, resolve_baseline
from ._reuse import PatchReuse, ReuseWarning
from ._sampled import SegmentEstimate, estimate_segments, value_function

__all__ = [
    "SEGMENT_PLAYERS",
    "segment_method",
    "CoalitionValues",
    "evaluate",
    "evaluate_blocks",
    "DEFAULT_BLOCK_PATCHES",
    "prepare_stems",
    "patch_segments",
    "SegmentEstimate",
    "value_function",
    "estimate_segments",
    "NoiseFloor",
    "BASELINES",
    "resolve_baseline",
    "clear_silence_cache",
    "ReuseWarning",
    "PatchReuse",
    "patch_context",
    "export",
    "coalition_name",
    "MANIFEST",
    "FORMATS",
]
