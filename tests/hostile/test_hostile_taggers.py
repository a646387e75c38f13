"""Hostile corpus: user taggers (the duck-typed protocol) that are wrong in every way a user's
model can be, checked in ONE place (``xmtag.taggers.base.tagger_spec``) so that
``check_tagger``, ``FunctionTagger`` and ``coalitions.evaluate`` agree; and outputs that are
unusual but fine (torch tensors that require grad, lists, ints, float16) giving correct values.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from hostile_support import make_tone, run_python

from xmtag import coalitions
from xmtag.errors import MissingDependencyError, TaggerError
from xmtag.taggers import FunctionTagger, check_tagger

SR = 8000
STEMS = {"a": make_tone(220, SR, 0.25), "b": make_tone(330, SR, 0.25, channels=2)[:1]}


class Good:
    """Two tags: the clip's RMS and its peak (a code-path model, deterministic)."""

    labels = ("rms", "peak")
    sample_rate = SR
    patch_length = None

    def predict(self, batch):
        x = np.asarray(batch, np.float64)
        return np.stack([np.sqrt((x**2).mean(1)), np.abs(x).max(1)], axis=1)


def _variant(**attrs):
    cls = type("UserTagger", (Good,), {})
    for k, v in attrs.items():
        setattr(cls, k, v)
    return cls()


def _evaluate(tagger, segments=None):
    return coalitions.evaluate(STEMS, tagger, sr=SR, segments=segments, progress=False)


# ------------------------------------------------------------------------ malformed attributes
BAD_ATTRIBUTES = [
    ({"labels": "rock"}, r"labels must be a list of tag names, got the single string 'rock'; write \['rock"),
    ({"labels": []}, r"labels is empty; a tagger needs at least one tag name"),
    ({"labels": ["rock", "rock"]}, r"repeated labels \['rock'\]"),
    ({"labels": ["rock", 7]}, r"every label must be a non-empty string; got \[7\]"),
    ({"labels": ["rock", ""]}, r"every label must be a non-empty string"),
    ({"labels": 5}, r"labels must be a list of tag names, got int"),
    ({"sample_rate": 0}, r"sample_rate \(Hz\) must be a positive integer, got 0"),
    ({"sample_rate": 16000.0}, r"sample_rate \(Hz\) must be a positive integer, got 16000\.0"),
    ({"sample_rate": True}, r"sample_rate \(Hz\) must be a positive integer, got True"),
    ({"patch_length": 0}, r"patch_length \(samples\) must be a positive integer or None, got 0"),
    ({"patch_length": 1.5}, r"patch_length \(samples\) must be a positive integer or None"),
    ({"predict": "not a method"}, r"predict is not callable"),
]


@pytest.mark.parametrize(("attrs", "match"), BAD_ATTRIBUTES)
def test_malformed_taggers_are_refused_the_same_way_everywhere(attrs, match):
    tagger = _variant(**attrs)
    with pytest.raises(TaggerError, match=match):
        check_tagger(tagger)
    with pytest.raises(TaggerError, match=match):  # the coalition engine delegates to the same check
        _evaluate(tagger)


def test_function_tagger_refuses_a_string_of_labels():
    with pytest.raises(TaggerError, match=r"FunctionTagger 'function': labels .* single string 'rock'"):
        FunctionTagger(lambda b: b[:, :1], "rock", sample_rate=SR)


def test_missing_predict_patches_when_segments_are_asked():
    class NoPatches:
        labels, sample_rate, patch_length = ["x"], SR, 400

        def predict(self, batch):
            return np.zeros((len(batch), 1))

    with pytest.raises(TaggerError, match=r"NoPatches is not a tagger: it has no 'predict_patches'"):
        _evaluate(NoPatches(), segments=2)


# ------------------------------------------------------------------------ malformed outputs
def _returning(fn):
    return _variant(predict=lambda self, batch: fn(batch))


BAD_OUTPUTS = [
    (lambda b: np.zeros(len(b)), r"returned shape \(\d+,\) for a batch of \d+ clip\(s\); expected \(\d+, 2"),
    (lambda b: np.zeros((len(b), 3)), r"returned shape \(\d+, 3\).*2 = len\(labels\)\)\. Fix the tagger"),
    (lambda b: np.full((len(b), 2), np.nan), r"returned NaN or infinite values .*Check the tagger"),
    (lambda b: np.full((len(b), 2), np.inf), r"NaN or infinite"),
    (lambda b: np.zeros((len(b), 2), complex), r"not a numeric array \(dtype complex128\)"),
    (lambda b: np.full((len(b), 2), "0.5"), r"not a numeric array \(dtype <U3\)"),
    (lambda b: [[0.1, 0.2]] * (len(b) - 1) + [[0.1]], r"not a numeric array"),
    (lambda b: None, r"not a numeric array \(dtype object\)"),
]


@pytest.mark.parametrize(("fn", "match"), BAD_OUTPUTS)
def test_malformed_outputs(fn, match):
    with pytest.raises(TaggerError, match=match):
        _evaluate(_returning(fn))


# ------------------------------------------------------------------------ unusual but correct outputs
def _reference():
    return _evaluate(Good()).values


def _as_torch(requires_grad: bool, dtype: str = "float32"):
    torch = pytest.importorskip("torch")

    def fn(batch):
        w = torch.ones(1, requires_grad=requires_grad)
        out = torch.as_tensor(Good().predict(batch), dtype=getattr(torch, dtype)) * w
        assert out.requires_grad == requires_grad
        return out

    return fn


@pytest.mark.parametrize(
    ("make", "tol"),
    [
        (lambda: _as_torch(requires_grad=True), 1e-6),  # a user's torch model without no_grad()
        (lambda: _as_torch(requires_grad=False, dtype="float64"), 0),
        (lambda: _as_torch(requires_grad=True, dtype="bfloat16"), 1e-2),
        (lambda: lambda b: Good().predict(b).tolist(), 0),  # nested lists
        (lambda: lambda b: Good().predict(b).astype(np.float16), 1e-3),
    ],
)
def test_unusual_outputs_give_the_right_values(make, tol):
    got = _evaluate(_returning(make())).values
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, _reference(), atol=tol, rtol=tol)


def test_integer_and_bool_outputs_are_numbers():
    got = _evaluate(_returning(lambda b: (np.abs(b).max(1, keepdims=True) > 0.3).repeat(2, 1))).values
    np.testing.assert_array_equal(got[0], [0.0, 0.0])
    assert set(np.unique(got)) <= {0.0, 1.0} and got[-1].tolist() == [1.0, 1.0]


def test_function_tagger_with_a_torch_output_requiring_grad():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.tensor([2.0]))
    t = FunctionTagger(lambda b: torch.as_tensor(b[:, :1]) * w, ["x2"], sample_rate=SR)
    out = t.predict(np.full((2, 10), 0.25, np.float32))
    np.testing.assert_array_equal(out, [[0.5], [0.5]])


# ------------------------------------------------------------------------ missing optional backends
HIDE_ESSENTIA = """
import sys
class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "essentia" or name.startswith("essentia."):
            raise ImportError("No module named 'essentia' (hidden by the xmtag test)")
sys.meta_path.insert(0, _Hide())
"""


@pytest.mark.skipif(importlib.util.find_spec("essentia") is None, reason="covered in test_taggers_essentia")
def test_missing_essentia_message_with_the_module_hidden(tmp_path, monkeypatch):
    """essentia is installed here: hide it from the worker interpreter to run the message path."""
    from xmtag.taggers.essentia import EssentiaTagger

    hidden = tmp_path / "hide-essentia"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text(HIDE_ESSENTIA)  # runs at the worker's start-up
    monkeypatch.setenv("PYTHONPATH", str(hidden))
    graph = __import__("pathlib").Path(__file__).parents[1] / "data" / "musicnn" / "msd-musicnn.pb"
    t = EssentiaTagger(graph, python=sys.executable)
    try:
        with pytest.raises(MissingDependencyError, match=r"xmtag\[essentia\].*XMTAG_ESSENTIA_PYTHON"):
            t.predict(np.zeros((1, 47872), np.float32))
    finally:
        t.close()
    done = run_python("import essentia", env={"PYTHONPATH": str(hidden)})  # the hiding really works
    assert done.returncode != 0 and "hidden by the xmtag test" in done.stderr


# ------------------------------------------------------------------------ argument checks
@pytest.mark.parametrize("threads", ["-1", "0"])
def test_cli_threads_must_be_positive(threads, capsys):
    from xmtag.cli import main

    clip = __import__("pathlib").Path(__file__).parents[1] / "data" / "musicnn" / "clip.flac"
    assert main(["tag", str(clip), "--threads", threads]) == 1
    assert f"--threads must be a positive integer, got {threads}." in capsys.readouterr().err


def test_musicnn_num_threads_is_checked():
    pytest.importorskip("musicnn", reason="the musicnn weights package")
    from xmtag.errors import XmtagError
    from xmtag.taggers.musicnn import MusicnnTagger

    with pytest.raises(XmtagError, match=r"num_threads must be a positive integer or None, got -1"):
        MusicnnTagger("musicnn-msd", num_threads=-1)


def test_torch_output_requiring_grad_through_the_sampling_value_function():
    fn, players, _ = coalitions.value_function(STEMS, _returning(_as_torch(requires_grad=True)), sr=SR)
    ref, _, _ = coalitions.value_function(STEMS, Good(), sr=SR)
    masks = np.arange(4)
    np.testing.assert_allclose(fn(masks), ref(masks), rtol=1e-6, atol=1e-7)
    assert players == ["a", "b"]
