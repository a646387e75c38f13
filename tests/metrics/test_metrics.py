"""xmtag.metrics on games whose answers are known in closed form, on probability and logit outputs.

Games: an additive game with one dummy stem, a pure-interaction game (a AND b), and a
deliberately wrong attribution of the additive game. Then: metrics by tagger calls equal the
metrics from coalition values; save/load keeps every metric; bootstrap and Wilson intervals;
stability; the randomisation check on the real musicnn-msd weights.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import xmtag
from xmtag import Explanation, metrics
from xmtag.errors import UnknownTagError, XmtagError
from xmtag.metrics import CoalitionsUnavailableError
from xmtag.taggers import FunctionTagger

STEMS = ["a", "b", "c", "d"]
W = np.array([0.3, -0.1, 0.0, 0.2])  # c is a dummy
B0 = 0.1


def additive(w=W, b0=B0, n_tags: int = 1) -> np.ndarray:
    n = len(w)
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    v = b0 + bits @ w
    return np.stack([v] + [np.full_like(v, 0.05)] * (n_tags - 1), axis=1)


def interaction() -> np.ndarray:
    """3 stems, f = 1 iff a and b are both present (c is a dummy); a second tag constant 0.5."""
    masks = np.arange(8)
    v = ((masks & 3) == 3).astype(float)
    return np.stack([v, np.full(8, 0.5)], axis=1)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


@pytest.fixture
def add_expl():
    return Explanation.from_game(additive(n_tags=2), STEMS, ["t", "other"])


@pytest.fixture
def and_expl():
    return Explanation.from_game(interaction(), ["a", "b", "c"], ["t", "flat"])


# ------------------------------------------------------------------------- additive + dummy
def test_additive_game_curves(add_expl):
    assert add_expl.values[:, 0].tolist() == pytest.approx(W.tolist())
    assert add_expl.values[2, 0] == 0.0  # the dummy stem gets exactly 0
    assert metrics.ranking(add_expl, "t").tolist() == [0, 3, 2, 1]  # a, d, c (0), b (negative)
    np.testing.assert_allclose(metrics.deletion(add_expl, "t"), [0.5, 0.2, 0.0, 0.0, 0.1], atol=1e-12)
    np.testing.assert_allclose(metrics.insertion(add_expl, "t"), [0.1, 0.4, 0.6, 0.6, 0.5], atol=1e-12)
    # trapezoid over k/n = 0, 1/4, ..., 1
    assert metrics.deletion_auc(add_expl, "t") == pytest.approx((0.35 + 0.1 + 0.0 + 0.05) / 4)
    assert metrics.insertion_auc(add_expl, "t") == pytest.approx((0.25 + 0.5 + 0.6 + 0.55) / 4)


def test_additive_game_closed_form_on_random_games():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(1, 7))
        w = rng.normal(size=n)
        e = Explanation.from_game(additive(w, 0.2), [f"s{i}" for i in range(n)], ["t"])
        order = np.argsort(-w, kind="stable")
        p = 0.2 + w.sum()
        expect_del = p - np.concatenate([[0], np.cumsum(w[order])])
        np.testing.assert_allclose(metrics.deletion(e, 0), expect_del, atol=1e-12)
        np.testing.assert_allclose(metrics.insertion(e, 0), 0.2 + np.concatenate([[0], np.cumsum(w[order])]))
        # FF of an additive game is the sum of the positive weights
        assert metrics.FF(e, 0, units="logit") == pytest.approx(w[w > 0].sum(), abs=1e-12)


def test_additive_game_lmac_metrics(add_expl):
    # kept = {a, d} (c is 0, not positive): o = 0.1 + 0.3 + 0.2 = 0.6 > p = 0.5
    assert metrics.AI(add_expl, "t") == 100.0
    assert metrics.AD(add_expl, "t") == 0.0
    assert metrics.AG(add_expl, "t") == pytest.approx(100 * 0.1 / 0.5)
    assert metrics.FF(add_expl, "t") == pytest.approx(0.5 - 0.0)  # f({b, c}) = 0.1 - 0.1
    assert metrics.fid_in(add_expl, "t") == 1.0  # "t" is the top tag on both
    p = np.array([0.3, 0.1, 0.2]) / 0.6
    # Bhatt et al.'s entropy itself (issue 26, item 6), and the share of its maximum log n
    assert metrics.complexity(add_expl, "t") == pytest.approx(-(p * np.log(p)).sum())
    assert metrics.complexity_normalized(add_expl, "t") == pytest.approx(-(p * np.log(p)).sum() / math.log(4))
    top1 = metrics.topk_vs_random(add_expl, "t", 1)
    assert (top1.top, top1.random, top1.n_subsets) == (pytest.approx(0.4), pytest.approx(0.2), 4)
    top2 = metrics.topk_vs_random(add_expl, "t", 2)
    assert (top2.top, top2.random, top2.n_subsets) == (pytest.approx(0.6), pytest.approx(0.3), 6)


def test_ties_are_broken_by_stem_order():
    e = Explanation.from_game(additive(np.array([0.2, 0.1, 0.2]), 0.0), ["x", "y", "z"], ["t"])
    assert metrics.ranking(e, "t").tolist() == [0, 2, 1]


# ------------------------------------------------------------------------- pure interaction
def test_pure_interaction_game(and_expl):
    assert and_expl.values[:, 0].tolist() == [0.5, 0.5, 0.0]
    np.testing.assert_array_equal(metrics.deletion(and_expl, "t"), [1, 0, 0, 0])
    np.testing.assert_array_equal(metrics.insertion(and_expl, "t"), [0, 0, 1, 1])
    assert metrics.deletion_auc(and_expl, "t") == pytest.approx(1 / 6)
    assert metrics.insertion_auc(and_expl, "t") == pytest.approx(0.5)
    assert (metrics.AI(and_expl, "t"), metrics.AD(and_expl, "t"), metrics.AG(and_expl, "t")) == (0, 0, 0)
    assert metrics.FF(and_expl, "t") == 1.0
    assert metrics.fid_in(and_expl, "t") == 1.0
    assert metrics.complexity(and_expl, "t") == pytest.approx(math.log(2))
    assert metrics.complexity_normalized(and_expl, "t") == pytest.approx(math.log(2) / math.log(3))
    assert metrics.topk_vs_random(and_expl, "t", 1)[:2] == (0.0, 0.0)
    assert metrics.topk_vs_random(and_expl, "t", 2)[:2] == (1.0, pytest.approx(1 / 3))
    # the constant tag: every stem is a dummy, nothing is kept, entropy undefined
    assert metrics.FF(and_expl, "flat") == 0.0
    assert math.isnan(metrics.complexity(and_expl, "flat"))


def test_tag_none_explains_each_clips_top_tag(add_expl, and_expl):
    assert metrics.AI([add_expl, and_expl]) == 50.0  # top tags: "t" in both
    assert metrics.FF([add_expl, and_expl]) == pytest.approx((0.5 + 1.0) / 2)


# ----------------------------------------------------------- a wrong attribution; logit outputs
def wrong(units: str):
    """The additive game's coalition values, with an attribution that calls a harmful."""
    return SimpleNamespace(
        stems=STEMS,
        labels=["t"],
        values=np.array([[-0.3], [-0.1], [0.0], [0.2]]),
        coalition_values=additive(),
        units=units,
        method="wrong",
    )


def test_wrong_attribution_scores_worse_probability():
    e = wrong("probability")
    # kept = {d}: o = 0.1 + 0.2 = 0.3 < p = 0.5
    assert metrics.AI(e, "t") == 0.0
    assert metrics.AD(e, "t") == pytest.approx(100 * 0.2 / 0.5)
    assert metrics.AG(e, "t") == 0.0
    assert metrics.FF(e, "t") == pytest.approx(0.5 - 0.3)  # removes d only: f({a, b, c}) = 0.3
    assert metrics.deletion_auc(e, "t") > metrics.deletion_auc(
        Explanation.from_game(additive(), STEMS, ["t"]), 0
    )


def test_logit_outputs_use_the_sigmoid_for_ai_ad_ag():
    e = wrong("logit")  # same coalition values read as logits: p = 0.5, o = 0.3
    assert metrics.AI(e, "t") == 0.0
    assert metrics.AD(e, "t") == pytest.approx(100 * (sigmoid(0.5) - sigmoid(0.3)) / sigmoid(0.5))
    assert metrics.FF(e, "t") == pytest.approx(0.2)  # FF and curves stay in logits
    good = Explanation.from_game(additive(), STEMS, ["t"], metadata={"units": "logit"})
    assert metrics.AG(good, "t") == pytest.approx(100 * (sigmoid(0.6) - sigmoid(0.5)) / (1 - sigmoid(0.5)))
    frame = metrics.faithfulness(good)
    assert frame.loc[0, "AG"] == pytest.approx(100 * (sigmoid(0.6) - sigmoid(0.5)) / (1 - sigmoid(0.5)))
    # other units: AD and AG are not defined
    assert math.isnan(metrics.AD(e, "t", units="score"))


# ------------------------------------------------------------------------------- the table
def test_faithfulness_table(add_expl, and_expl):
    frame = metrics.faithfulness([add_expl, and_expl], tags=["t"])
    assert list(frame.columns) == [
        "explanation", "source", "method", "tag", "p", "kept", "o", *metrics.METRICS, "tagger_rows",
    ]  # fmt: skip
    assert frame["explanation"].tolist() == [0, 1]
    assert frame["kept"].tolist() == ["a+d", "a+b"]
    assert frame["AI"].tolist() == [100.0, 0.0]
    assert frame["FF"].tolist() == pytest.approx([0.5, 1.0])
    assert frame["tagger_rows"].tolist() == [0, 0]
    assert frame["deletion_auc"].tolist() == pytest.approx([metrics.deletion_auc(add_expl, "t"), 1 / 6])
    assert len(metrics.faithfulness(add_expl)) == 2  # every tag by default
    assert metrics.faithfulness(add_expl, top=1)["tag"].tolist() == ["t"]


def test_errors(add_expl):
    with pytest.raises(UnknownTagError, match="Unknown tag 'rok'"):
        metrics.deletion(add_expl, "rok")
    with pytest.raises(XmtagError, match="k=5 is more than"):
        metrics.topk_vs_random(add_expl, "t", 5)
    with pytest.raises(XmtagError, match="needs an Explanation or a list"):
        metrics.faithfulness(3)
    with pytest.raises(XmtagError, match="lacks stems"):
        metrics.deletion(SimpleNamespace(labels=["t"], values=np.zeros((1, 1))), "t")


# ------------------------------------------------------------------ tagger calls, save/load
def mean_tagger() -> FunctionTagger:
    """Linear in the mix: f(S) = sum of the stems' means (an additive game), and its negative."""
    return FunctionTagger(lambda b: np.stack([b.mean(1), -b.mean(1)], 1), ["up", "down"], 8000, name="mean")


def stems_constant(levels=(0.3, -0.1, 0.0, 0.2)) -> xmtag.Stems:
    return xmtag.Stems({s: np.full((1, 800), v, np.float32) for s, v in zip(STEMS, levels)}, sr=8000)


def test_metrics_by_tagger_calls_equal_those_from_coalition_values():
    stems = stems_constant()
    tagger = mean_tagger()
    exact = xmtag.explain(stems, tagger, cache=False, progress=False)
    sampled = SimpleNamespace(stems=exact.stems, labels=exact.labels, values=exact.values, audio=stems)
    ref = metrics.faithfulness(exact)
    got = metrics.faithfulness(sampled, tagger=tagger)
    pd.testing.assert_frame_equal(
        ref.drop(columns=["tagger_rows", "method", "source"]),
        got.drop(columns=["tagger_rows", "method", "source"]),
    )
    rows = got["tagger_rows"].iloc[0]
    assert 0 < rows <= 2**4 and (ref["tagger_rows"] == 0).all()
    scorer = metrics.Scorer(sampled, tagger)
    np.testing.assert_allclose(metrics.deletion(sampled, "up", tagger=scorer), metrics.deletion(exact, "up"))
    assert scorer.n_tagger_rows == 5  # n + 1 distinct coalitions
    with pytest.raises(CoalitionsUnavailableError, match="pass tagger="):
        metrics.deletion(sampled, "up")
    # a real sampled explanation (no coalition values): scored by tagger calls, the same numbers
    # as its values scored on the exact explanation's coalition table
    lime = xmtag.explain(stems, tagger, cache=False, progress=False, method="lime", budget=12)
    assert not lime.has_coalitions
    on_table = SimpleNamespace(stems=lime.stems, labels=lime.labels, values=lime.values,
                               coalition_values=exact.coalition_values)  # fmt: skip
    by_calls = metrics.faithfulness(lime, tagger=tagger)
    assert by_calls["method"].tolist() == ["lime", "lime"] and (by_calls["tagger_rows"] > 0).all()
    pd.testing.assert_frame_equal(
        by_calls[list(metrics.METRICS)], metrics.faithfulness(on_table)[list(metrics.METRICS)]
    )
    bare = SimpleNamespace(stems=exact.stems, labels=exact.labels, values=exact.values)
    with pytest.raises(CoalitionsUnavailableError, match="no audio attached"):
        metrics.deletion(bare, "up", tagger=tagger)


def test_saved_and_reloaded_explanation_has_the_same_metrics(add_expl, and_expl, tmp_path):
    for e in (add_expl, and_expl):
        path = e.save(tmp_path / "e.xmtag")
        back = Explanation.load(path)
        pd.testing.assert_frame_equal(metrics.faithfulness(e), metrics.faithfulness(back))
        for tag in e.labels:
            np.testing.assert_array_equal(metrics.deletion(e, tag), metrics.deletion(back, tag))
            np.testing.assert_array_equal(metrics.insertion(e, tag), metrics.insertion(back, tag))


# ------------------------------------------------------------------------------ statistics
def test_summarize_bootstrap():
    frame = pd.DataFrame(
        {"method": ["x"] * 50 + ["y"], "AI": [100.0] * 25 + [0.0] * 25 + [100.0], "FF": [np.nan] * 51}
    )
    out = metrics.summarize(frame, by="method", n_boot=500, seed=3)
    x = out[(out.method == "x") & (out.metric == "AI")].iloc[0]
    assert x["mean"] == 50.0 and x["n"] == 50
    assert 30 < x["ci_low"] < 50 < x["ci_high"] < 70  # binomial sd of the mean ~7 points
    y = out[(out.method == "y") & (out.metric == "AI")].iloc[0]
    assert (y["ci_low"], y["ci_high"], y["n"]) == (100.0, 100.0, 1)
    assert out[out.metric == "FF"]["n"].tolist() == [0, 0]
    pd.testing.assert_frame_equal(out, metrics.summarize(frame, by="method", n_boot=500, seed=3))
    with pytest.raises(XmtagError, match="no column"):
        metrics.summarize(frame, by="genre")


def test_wilson():
    lo, hi = metrics.wilson(66, 70)
    assert (round(lo, 3), round(hi, 3)) == (0.862, 0.978)
    assert metrics.wilson(0, 10)[0] == 0.0
    with pytest.raises(XmtagError, match="cannot exceed"):
        metrics.wilson(11, 10)


def test_stability(add_expl):
    shuffled = Explanation.from_game(
        additive(W[[3, 2, 1, 0]], B0, 2), ["d", "c", "b", "a"], ["t", "other"]
    )  # the same game, stems in another order
    noisy = Explanation.from_game(additive(W + np.array([0.0, 0.45, 0.0, 0.0]), B0, 2), STEMS, ["t", "other"])
    out = metrics.stability(
        {"ref": add_expl, "shuffled": shuffled, "noisy": noisy}, reference="ref", tags=["t"]
    )
    same = out.set_index("condition").loc["shuffled"]
    assert same["spearman"] == pytest.approx(1.0) and same["relative_change"] == pytest.approx(0.0)
    moved = out.set_index("condition").loc["noisy"]
    assert moved["top_stem_agreement"] == 0.0  # b (0.35) overtakes a (0.3)
    assert moved["relative_change"] == pytest.approx(0.45 / np.linalg.norm(W))
    with pytest.raises(XmtagError, match="at least two"):
        metrics.stability([add_expl])


# ------------------------------------------------------------------- randomisation (musicnn)
@pytest.fixture(scope="module")
def musicnn():
    return xmtag.load_tagger("musicnn-msd")


@pytest.fixture(scope="module")
def demo_stems():
    stems = xmtag.load_demo()
    sr = stems.sr
    keep = ("drums", "guitar")
    return xmtag.Stems({k: stems[k][:, : 3 * sr + sr // 10] for k in keep}, sr=sr)


def test_randomized_taggers_change_weights_and_leave_the_original(musicnn, demo_stems):
    y = xmtag.load_audio(xmtag.datasets.demo_path() / "guitar.ogg", sr=16000, mono=True)[0][:, :47872]
    before = musicnn.predict(y)
    layers = metrics.tagger_layers(musicnn)
    assert layers[-1] == "out" and len(layers) >= 5
    seen = []
    for chosen, rnd in metrics.randomized_taggers(musicnn, layers=["out", layers[-2]], seed=0):
        assert rnd is not musicnn and rnd.name != musicnn.name
        out = rnd.predict(y)
        assert np.abs(out - before).max() > 1e-3  # the weights really changed
        seen.append((chosen, out))
    assert [c for c, _ in seen] == [["out"], ["out", layers[-2]]]
    assert not np.array_equal(seen[0][1], seen[1][1])
    np.testing.assert_array_equal(musicnn.predict(y), before)  # original untouched
    _, again = next(metrics.randomized_taggers(musicnn, layers=["out"], seed=0))
    np.testing.assert_array_equal(again.predict(y), seen[0][1])  # seeded: the same new weights


def test_randomization_check_top_layer(musicnn, demo_stems):
    frame = metrics.randomization_check(demo_stems, musicnn, layers=["out"], method=["loo", "exact"], top=10)
    assert frame["randomized"].tolist() == ["", "", "out", "out"]
    assert frame["method"].tolist() == ["loo", "exact", "loo", "exact"]
    assert (frame.loc[2:, "prediction_change"] > 0).all() and (frame.loc[2:, "spearman"] < 0.9).all()
    assert frame["tagger_rows"].tolist() == [4, 4, 4, 4]  # the methods share each step's coalitions


@pytest.mark.slow
def test_randomization_check_musicnn(musicnn, demo_stems):
    y = xmtag.load_audio(xmtag.datasets.demo_path() / "guitar.ogg", sr=16000, mono=True)[0][:, :47872]
    before = musicnn.predict(y)
    frame = metrics.randomization_check(demo_stems, musicnn, layers="cascade", top=10)
    assert frame["step"].tolist() == list(range(len(metrics.tagger_layers(musicnn)) + 1))
    assert frame.loc[0, "spearman"] == 1.0
    assert (frame["prediction_change"].iloc[1:] > 0).all()
    assert (frame["mean_abs_change"].iloc[1:] > 0).all()
    # random weights explain something else: low correlation, or a constant (saturated) attribution
    assert not (frame["spearman"].iloc[1:] > 0.9).any()
    assert (frame["tagger_rows"] <= 4).all()
    np.testing.assert_array_equal(musicnn.predict(y), before)
    with pytest.raises(XmtagError, match="exposes no torch"):
        metrics.randomization_check(demo_stems, mean_tagger())


class ModuleTagger:
    """A tagger exposing its torch network as ``tagger.module`` (as TorchTagger and musicnn do)."""

    labels, sample_rate, patch_length, name = ["x", "y"], 8000, None, "tiny-torch"

    def __init__(self):
        import torch

        torch.manual_seed(0)
        self.module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))

    def predict(self, batch):
        import torch

        b = np.asarray(batch, np.float32)
        feats = np.stack([b.mean(1), np.abs(b).mean(1), b.max(1), b.min(1)], 1)
        with torch.no_grad():
            return torch.sigmoid(self.module(torch.from_numpy(feats))).numpy()


def test_randomized_taggers_on_a_torch_module():
    import torch

    tagger = ModuleTagger()
    before = {k: v.clone() for k, v in tagger.module.state_dict().items()}
    assert metrics.tagger_layers(tagger) == ["0", "2"]
    copies = list(metrics.randomized_taggers(tagger, layers="independent", seed=1))
    assert [c for c, _ in copies] == [["2"], ["0"]]
    top_only = copies[0][1].module.state_dict()
    assert not torch.equal(top_only["2.weight"], before["2.weight"])  # the weights really change
    assert torch.equal(top_only["0.weight"], before["0.weight"])  # the others stay trained
    for k, v in tagger.module.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k]), k
    stems = stems_constant()
    frame = metrics.randomization_check(stems, tagger, layers="cascade", top=None)
    assert frame["randomized"].tolist() == ["", "2", "2+0"]
    assert (frame["prediction_change"].iloc[1:] > 0).all() and (frame["tagger_rows"] == 16).all()
    with pytest.raises(XmtagError, match="Unknown layer"):
        next(metrics.randomized_taggers(tagger, layers=["nope"]))


def test_tagger_calls_use_the_explanations_baseline():
    """A sampled explanation made with baseline="noise" is scored with the same noise floor."""
    stems = stems_constant((0.3, 0.1, 0.0, 0.2))
    tagger = FunctionTagger(lambda b: np.abs(b).mean(1, keepdims=True), ["loud"], 8000, name="loud")
    exact = xmtag.explain(stems, tagger, cache=False, progress=False, baseline="noise")
    lime = xmtag.explain(
        stems, tagger, cache=False, progress=False, method="lime", budget=12, baseline="noise"
    )
    assert exact.coalition_values[0, 0] > 0  # the empty coalition is the noise floor, not silence
    on_table = SimpleNamespace(stems=lime.stems, labels=lime.labels, values=lime.values,
                               coalition_values=exact.coalition_values)  # fmt: skip
    got = metrics.faithfulness(lime, tagger=tagger)[list(metrics.METRICS)]
    pd.testing.assert_frame_equal(got, metrics.faithfulness(on_table)[list(metrics.METRICS)])


# ------------------------------------------- Fid-In for the tag explained; AG's denominator (issue 26)
def _two_tags():
    """Stems a, b; rock follows a, guitar follows b (masks: none, a, b, a+b); the prediction is rock."""
    v = np.array([[0.1, 0.05], [0.8, 0.1], [0.1, 0.6], [0.9, 0.5]])
    return Explanation.from_game(v, ["a", "b"], ["rock", "guitar"])


def test_fid_in_asks_whether_the_kept_stems_make_the_explained_tag_the_top_one():
    e = _two_tags()
    assert e.labels[int(np.argmax(e.prediction))] == "rock"
    assert e.values[:, 1].round(3).tolist() == [-0.025, 0.475]  # guitar keeps b only
    # mix of b: guitar 0.6 > rock 0.1, so the explanation of guitar is faithful (the top tag of
    # the full mix, rock, does not survive: the old definition scored 0 here)
    assert metrics.fid_in(e, "guitar") == 1.0
    assert metrics.fid_in(e, "rock") == 1.0  # rock keeps both stems: the prediction itself
    # an attribution that keeps a for guitar: the mix of a is rock's, so it is not faithful
    # (the old definition scored 1: "the top tag survives")
    bad = SimpleNamespace(
        stems=["a", "b"], labels=["rock", "guitar"], values=np.array([[0.75, 0.4], [0.05, -0.1]]),
        coalition_values=e.coalition_values, prediction=e.prediction, units="probability",
    )
    assert metrics.fid_in(bad, "guitar") == 0.0
    frame = metrics.faithfulness([e], tags=["rock", "guitar"])
    assert frame["fid_in"].tolist() == [1.0, 1.0]


def test_average_gain_divides_by_one_minus_p():
    """p = 0.8, o = 0.9: AG = 100 * 0.1 / 0.2 = 50 (dividing by p would give 12.5; at p = 0.5 both agree)."""
    e = Explanation.from_game(additive(np.array([0.45, -0.1]), 0.45), ["a", "b"], ["t"])
    assert e.prediction[0] == pytest.approx(0.8)  # o = f({a}) = 0.9
    assert metrics.AG(e, "t") == pytest.approx(50.0)
    assert metrics.AD(e, "t") == 0.0 and metrics.AI(e, "t") == 100.0
