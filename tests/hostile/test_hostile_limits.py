"""Hostile inputs that ask for far more memory than they are worth: refused before allocating.

Each case builds the real input, asserts an ``XmtagError`` subclass whose message names the
input, the limit (``xmtag.limits.*``) and how to raise it, and proves the refusal comes before
the allocation (tracemalloc peak, or an address-space limit in a child process).
"""

from __future__ import annotations

import json
import tracemalloc
import zipfile

import numpy as np
import pytest

import xmtag
from xmtag.errors import ExplanationFileError, XmtagError

MB = 1 << 20


def _peak(fn, *args, **kwargs):
    """(exception raised by fn, peak bytes traced while it ran)."""
    tracemalloc.start()
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        err = exc
    else:
        err = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return err, peak


def _small_explanation(tmp_path, labels=("rock", "pop")):
    expl = xmtag.Explanation.from_game(
        np.arange(8 * len(labels), dtype=float).reshape(8, -1), ["a", "b", "c"], list(labels)
    )
    return expl.save(tmp_path / "small.xmtag")


def _rewrite(src, dst, header_update, arrays):
    """Copy src's header with header_update, writing the given {name: (shape, fill)} arrays,
    zero arrays streamed so the test itself never holds them in memory."""
    with zipfile.ZipFile(src) as zf:
        header = json.loads(zf.read("header.json"))
    header.update(header_update)
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("header.json", json.dumps(header))
        for name, shape in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array_header_1_0(
                    fh, {"descr": "<f8", "fortran_order": False, "shape": tuple(shape)}
                )
                left = int(np.prod(shape)) * 8
                chunk = bytes(4 * MB)
                while left:
                    fh.write(chunk[: min(left, len(chunk))])
                    left -= min(left, len(chunk))
    return dst


def test_zip_bomb_explanation_refused_before_reading(tmp_path):
    """A small .xmtag whose header declares ~200 MB of all-zero arrays (they compress ~1000:1)."""
    src = _small_explanation(tmp_path)
    n_labels = 1100
    labels = [f"t{i}" for i in range(n_labels)]
    k = 2900  # segments: 3 x 2900 x 1100 x 8 B ~ 77 MB per segment array
    shapes = {
        "values": (3, n_labels),
        "base_values": (n_labels,),
        "prediction": (n_labels,),
        "segment_values": (3, k, n_labels),
        "segment_weights": (k,),
        "segment_bounds": (k, 2),
        "segment_stderr": (3, k, n_labels),
    }
    bomb = _rewrite(
        src,
        tmp_path / "bomb.xmtag",
        {"labels": labels, "arrays": {a: list(s) for a, s in shapes.items()}},
        shapes,
    )
    assert bomb.stat().st_size < 1 * MB
    err, peak = _peak(xmtag.Explanation.load, bomb)
    assert isinstance(err, ExplanationFileError), err
    msg = str(err)
    assert "bomb.xmtag" in msg and "MAX_EXPANSION_RATIO" in msg and "xmtag.limits" in msg
    assert peak < 16 * MB, f"peak {peak / MB:.0f} MB before the refusal"


def test_explanation_above_absolute_cap_refused(tmp_path, monkeypatch):
    import xmtag.limits

    monkeypatch.setattr(xmtag.limits, "MAX_EXPLANATION_BYTES", 1000)
    src = _small_explanation(tmp_path, labels=[f"t{i}" for i in range(40)])
    with pytest.raises(ExplanationFileError, match="MAX_EXPLANATION_BYTES") as info:
        xmtag.Explanation.load(src)
    assert "small.xmtag" in str(info.value)


def test_long_tag_name_refused_at_load(tmp_path):
    """A 100,000-character tag in a ~100 KB file: refused when loaded, before export could hang."""
    src = _small_explanation(tmp_path)
    long = "x" * 100_000
    shapes = {"values": (3, 2), "base_values": (2,), "prediction": (2,)}
    bad = _rewrite(
        src,
        tmp_path / "long.xmtag",
        {"labels": [long, "pop"], "arrays": {a: list(s) for a, s in shapes.items()}},
        shapes,
    )
    with pytest.raises(ExplanationFileError) as info:
        xmtag.Explanation.load(bad)
    msg = str(info.value)
    assert "long.xmtag" in msg and "100,000 characters" in msg and "MAX_NAME_CHARS" in msg
    assert len(msg) < 600


def _wide_table(tmp_path, n_stems=20, n_tags=2000):
    """A ~35 KB CSV: 20 stems, 2000 tags, 3 rows (silence, one stem, the full mix)."""
    import pandas as pd

    stems = [f"s{i}" for i in range(n_stems)]
    rows = ["", stems[0], "+".join(stems)]
    df = pd.DataFrame(np.zeros((3, n_tags)), columns=[f"t{j}" for j in range(n_tags)])
    df.insert(0, "stems", rows)
    path = tmp_path / "wide.csv"
    df.to_csv(path, index=False, float_format="%g")
    return path


def test_score_table_missing_coalitions_before_allocating(tmp_path):
    path = _wide_table(tmp_path)
    assert path.stat().st_size < 64 * 1024
    err, peak = _peak(xmtag.Explanation.from_scores, path)
    assert type(err).__name__ == "ScoreTableError", err
    msg = str(err)
    assert "lacks 1048573 of the 1048576 coalitions" in msg and "method='kernel'" in msg
    assert len(msg) < 2000
    assert peak < 64 * MB, f"peak {peak / MB:.0f} MB before the refusal"


def test_score_table_game_too_large_refused(tmp_path):
    path = _wide_table(tmp_path)
    err, peak = _peak(xmtag.Explanation.from_scores, path, method="kernel")
    assert type(err).__name__ == "ScoreTableError", err
    msg = str(err)
    assert "1,048,576 coalitions" in msg and "2000 tags" in msg and "MAX_SCORE_CELLS" in msg
    assert "tags=" in msg
    assert peak < 64 * MB, f"peak {peak / MB:.0f} MB before the refusal"


def _band_tagger():
    from xmtag.taggers import FunctionTagger

    def fn(b):
        return np.sqrt((np.asarray(b, np.float64) ** 2).mean(1, keepdims=True))

    return FunctionTagger(fn, ["loud"], sample_rate=8000, name="toy")


def _long_stems(seconds=60.0):
    from hostile_support import make_tone

    from xmtag.separation import Stems

    return Stems({"a": make_tone(220, 8000, seconds), "b": make_tone(330, 8000, seconds)}, sr=8000)


def test_bands_count_refused_before_splitting():
    """bands=10000: refused with the limit before any stem is split into bands."""
    stems = _long_stems()
    err, peak = _peak(xmtag.explain, stems, _band_tagger(), bands=10000, cache=False, progress=False)
    assert isinstance(err, XmtagError), err
    msg = str(err)
    assert "bands=10000" in msg and "10,000 bands" in msg and "MAX_BANDS" in msg and "fewer bands" in msg
    assert peak < 8 * MB, f"peak {peak / MB:.0f} MB before the refusal"


def test_band_players_checked_before_splitting():
    """2 stems x 20 bands = 40 players cannot be enumerated: refused before the 40 band signals exist."""
    stems = _long_stems()
    err, peak = _peak(
        xmtag.explain, stems, _band_tagger(), bands=20, method="exact", cache=False, progress=False
    )
    assert isinstance(err, XmtagError), err
    assert "40 players (2 stems x 20 bands)" in str(err) and "fewer bands" in str(err)
    assert peak < 8 * MB, f"peak {peak / MB:.0f} MB before the refusal"


@pytest.mark.parametrize("method", ["lime", "permutation", "kernel"])
def test_huge_budget_refused(method):
    stems = _long_stems(0.5)
    with pytest.raises(XmtagError) as info:
        xmtag.explain(stems, _band_tagger(), method=method, budget=10**12, cache=False, progress=False)
    msg = str(info.value)
    assert "budget=1,000,000,000,000" in msg and "MAX_BUDGET" in msg and "smaller budget" in msg


def test_lime_budget_refused_in_a_small_address_space():
    """attribute(method='lime', budget=10**12) in a child limited to 1 GiB of address space beyond
    what it has: a clear error, not a MemoryError."""
    code = (
        "import resource, numpy as np\n"
        "from xmtag.attribution import attribute\n"
        "from xmtag.errors import InvalidGameError\n"
        "import xmtag.attribution.baselines\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
        "used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), hard))\n"
        "try:\n"
        "    attribute(lambda m: np.zeros((len(m), 1)), 8, method='lime', budget=10**12)\n"
        "except InvalidGameError as exc:\n"
        "    print('REFUSED', exc)\n"
    )
    from hostile_support import run_python

    done = run_python(code)
    assert "REFUSED" in done.stdout, done.stderr[-2000:]
    assert "MAX_BUDGET" in done.stdout and "MemoryError" not in done.stderr


def test_n_boot_refused_before_resampling():
    """n_boot=10**9 over 20 tracks x 3 columns would draw 60 billion values (the corpus --n-boot)."""
    from xmtag.metrics import bootstrap_columns

    x = np.random.default_rng(0).normal(size=(20, 3))
    err, peak = _peak(bootstrap_columns, x, n_boot=10**9)
    assert isinstance(err, XmtagError), err
    msg = str(err)
    assert "n_boot=1,000,000,000" in msg and "MAX_BOOTSTRAP_CELLS" in msg and "smaller n_boot" in msg
    assert peak < 4 * MB, f"peak {peak / MB:.0f} MB before the refusal"


def test_segment_offsets_give_a_short_message(tmp_path):
    """Segments numbered by sample offsets (0, 441000, ... 5.3 million): a short message."""
    import pandas as pd

    rows = []
    for s, off in enumerate([0, 2_646_000, 5_292_000]):
        for stems in ("", "a", "b", "a+b"):
            rows.append(
                {"stems": stems, "segment": off, "start": s * 60.0, "end": s * 60.0 + 60, "rock": 0.5}
            )
    path = tmp_path / "offsets.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with pytest.raises(XmtagError) as info:
        xmtag.Explanation.from_scores(path)
    msg = str(info.value)
    assert len(msg) < 400, len(msg)
    assert "skips segment(s) 1, 2, 3, 4, 5 and 5,291,993 more (5,291,998 in all)" in msg
    assert "not sample offsets" in msg


def test_long_tag_name_refused_in_a_score_table(tmp_path):
    import pandas as pd

    path = tmp_path / "long.csv"
    pd.DataFrame({"stems": ["", "a", "b", "a+b"], "x" * 100_000: [0.0, 0.1, 0.2, 0.3]}).to_csv(
        path, index=False
    )
    with pytest.raises(XmtagError) as info:
        xmtag.Explanation.from_scores(path)
    msg = str(info.value)
    assert "tag name of 100,000 characters" in msg and "MAX_NAME_CHARS" in msg and len(msg) < 600


def test_long_tagger_label_refused():
    from xmtag.errors import TaggerError
    from xmtag.taggers import FunctionTagger

    with pytest.raises(TaggerError, match=r"label of 100,000 characters.*MAX_NAME_CHARS"):
        FunctionTagger(lambda b: np.zeros((len(b), 1)), ["x" * 100_000], sample_rate=8000, name="long")


def test_a_corpus_sized_bootstrap_runs_in_bounded_memory():
    """3,000 tracks x 200 tag-stem columns at n_boot=1000 needed 4.5 GiB at once (#24); now blocks."""
    import tracemalloc

    from xmtag.metrics import _stats, bootstrap_columns

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 200))
    x[rng.random(x.shape) < 0.1] = np.nan  # tracks without a stem
    tracemalloc.start()
    mean, lo, hi, n = bootstrap_columns(x, n_boot=1000, seed=3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 400 * MB, f"peak {peak / MB:.0f} MB"
    assert np.all(lo <= mean) and np.all(mean <= hi) and n.min() > 2500
    # the blocks change nothing: blocks of 3 columns and one block give the same numbers
    small, saved = x[:300, :40], _stats._BLOCK_CELLS
    try:
        _stats._BLOCK_CELLS = 3 * 200 * 300  # blocks of 3 columns
        a = bootstrap_columns(small, n_boot=200, seed=1)
        _stats._BLOCK_CELLS = 10**12  # one block
        b = bootstrap_columns(small, n_boot=200, seed=1)
    finally:
        _stats._BLOCK_CELLS = saved
    for u, v in zip(a, b):  # equal up to the order of floating-point sums (1 ulp)
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=0)
