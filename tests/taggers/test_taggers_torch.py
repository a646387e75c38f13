"""TorchTagger (any nn.Module) and the Hugging Face path (issue 14).

The Hugging Face tests build a tiny randomly initialised AST audio classifier and save it to a
temporary folder (no weights can be downloaded here): its scores are noise, so the tests check
loading, windowing, shapes, activations and exactness of the time-resolved values, not quality.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import xmtag
from xmtag.attribution import shapley
from xmtag.coalitions import value_function
from xmtag.errors import MissingDependencyError, ModelNotFoundError, TaggerError, XmtagError
from xmtag.taggers import ShortClipWarning, TorchTagger, load_tagger


class Bands(torch.nn.Module):
    """Three logits from the energy in three frequency bands of each window (deterministic)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[4.0, -1, 0], [0, 4, -1], [-1, 0, 4]]))
            self.lin.bias.fill_(-1.0)

    def forward(self, x):
        spec = torch.fft.rfft(x, dim=1).abs() ** 2
        edges = np.linspace(0, spec.shape[1], 4).astype(int)
        e = torch.stack([spec[:, a:b].mean(1) for a, b in itertools.pairwise(edges)], 1)
        return self.lin(torch.log1p(e))


def tone(freq, sr=8000, seconds=2.0, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_shapes_windowing_and_activation():
    t = TorchTagger(Bands(), 8000, ["low", "mid", "high"], patch_seconds=0.5, device="cpu")
    assert t.patch_length == 4000 and t.device.type == "cpu" and t.labels == ["low", "mid", "high"]
    y = np.stack([tone(300), tone(3500)])
    p = t.predict_patches(y)
    assert p.shape == (2, 4, 3) and p.dtype == np.float64
    assert ((p > 0) & (p < 1)).all()  # sigmoid
    np.testing.assert_allclose(t.predict(y), p.mean(1))
    assert t.predict(y)[0].argmax() == 0 and t.predict(y)[1].argmax() == 2
    # each window alone gives the same output: windows are independent
    np.testing.assert_allclose(t.predict_patches(y[:, 4000:8000])[:, 0], p[:, 1], atol=1e-6)
    # trailing samples after the last whole window are ignored
    np.testing.assert_allclose(t.predict_patches(np.pad(y, ((0, 0), (0, 100)))), p)
    soft = TorchTagger(Bands(), 8000, ["a", "b", "c"], patch_seconds=0.5, activation="softmax", device="cpu")
    np.testing.assert_allclose(soft.predict_patches(y).sum(-1), 1.0)
    raw = TorchTagger(Bands(), 8000, ["a", "b", "c"], patch_seconds=0.5, activation=None, device="cpu")
    logits = torch.from_numpy(raw.predict_patches(y))
    np.testing.assert_allclose(torch.special.expit(logits).numpy(), p, atol=1e-6)
    whole = TorchTagger(Bands(), 8000, ["a", "b", "c"], device="cpu", batch_size=1)
    assert whole.patch_length is None and whole.predict(y).shape == (2, 3)
    with pytest.raises(TaggerError, match="not patch-decomposable"):
        whole.predict_patches(y)
    with pytest.warns(ShortClipWarning):
        assert t.predict(tone(300, seconds=0.1)).shape == (1, 3)


def test_transform_and_batching_do_not_change_outputs():
    t1 = TorchTagger(Bands(), 8000, ["a", "b", "c"], patch_seconds=0.25, device="cpu", batch_size=64)
    t2 = TorchTagger(Bands(), 8000, ["a", "b", "c"], patch_seconds=0.25, device="cpu", batch_size=3)
    y = np.stack([tone(200), tone(1000), tone(3000)])
    np.testing.assert_allclose(t1.predict_patches(y), t2.predict_patches(y), atol=1e-12)
    half = TorchTagger(
        Bands(), 8000, ["a", "b", "c"], patch_seconds=0.25, device="cpu", transform=lambda x: 0.5 * x
    )
    np.testing.assert_allclose(half.predict(2 * y), t1.predict(y), atol=1e-6)


def test_bad_arguments_and_outputs():
    with pytest.raises(TaggerError, match="must be a torch.nn.Module"):
        TorchTagger(lambda x: x, 8000, ["a"])
    with pytest.raises(XmtagError, match="activation must be one of 'sigmoid', 'softmax'"):
        TorchTagger(Bands(), 8000, ["a", "b", "c"], activation="relu")
    with pytest.raises(TaggerError, match="single string"):
        TorchTagger(Bands(), 8000, "abc")
    with pytest.raises(TaggerError, match="patch_seconds must be a finite number > 0"):
        TorchTagger(Bands(), 8000, ["a", "b", "c"], patch_seconds=0)
    if not torch.cuda.is_available():
        with pytest.raises(XmtagError, match="no CUDA GPU"):
            TorchTagger(Bands(), 8000, ["a", "b", "c"], device="cuda")
    wrong = TorchTagger(Bands(), 8000, ["a", "b"], device="cpu")
    with pytest.raises(TaggerError, match=r"returned shape \(1, 3\) for 1 inputs; expected \(1, 2\)"):
        wrong.predict(tone(300))
    nan = TorchTagger(
        torch.nn.Identity(), 4, ["a", "b", "c", "d"], device="cpu", activation=None, transform=lambda x: x / 0
    )
    with pytest.raises(TaggerError, match="NaN or infinite"):
        nan.predict(np.zeros((1, 4), np.float32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    y = np.stack([tone(200), tone(3000)])
    cpu = TorchTagger(Bands(), 8000, ["a", "b", "c"], patch_seconds=0.5, device="cpu").predict_patches(y)
    gpu = TorchTagger(Bands(), 8000, ["a", "b", "c"], patch_seconds=0.5, device="cuda")
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.predict_patches(y), cpu, atol=1e-5)


def time_resolved_exactness(tagger, sr):
    """explain(segments=2) equals the exact Shapley values of the 2 stems x 2 segments game."""
    stems = xmtag.Stems({"low": tone(250, sr), "high": tone(2500, sr, amp=0.3)}, sr=sr)
    expl = xmtag.explain(stems, tagger, segments=2, cache=False, progress=False)
    fn, _players, _ = value_function(stems, tagger, segments=2)
    full_game = fn(np.arange(16))  # every subset of the 4 (stem, segment) players
    want = shapley.exact(full_game).reshape(2, 2, -1)
    np.testing.assert_allclose(expl.segment_values, want, atol=1e-6)
    return expl


def test_time_resolved_values_are_exact():
    t = TorchTagger(Bands(), 8000, ["low", "mid", "high"], patch_seconds=0.5, device="cpu")
    expl = time_resolved_exactness(t, 8000)
    assert expl.segment_values.shape == (2, 2, 3)


# ---------------------------------------------------------------------------------------------
# Hugging Face: a tiny random AST saved in the test


@pytest.fixture(scope="module")
def tiny_ast(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.ASTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        num_mel_bins=16,
        max_length=100,
        patch_size=16,
        frequency_stride=16,
        time_stride=16,
        num_labels=4,
        id2label={0: "bird", 1: "dog", 2: "rain", 3: "speech"},
        label2id={"bird": 0, "dog": 1, "rain": 2, "speech": 3},
        problem_type="multi_label_classification",
    )
    model = transformers.ASTForAudioClassification(config)
    folder = tmp_path_factory.mktemp("tiny-ast")
    model.save_pretrained(folder)
    transformers.ASTFeatureExtractor(num_mel_bins=16, max_length=100).save_pretrained(folder)
    return folder


def test_hf_tagger_from_a_local_folder(tiny_ast):
    t = load_tagger(f"hf:{tiny_ast}", device="cpu")
    assert t.labels == ["bird", "dog", "rain", "speech"]
    assert t.sample_rate == 16000 and t.patch_length == 16000  # 100 frames of 10 ms
    assert (
        t.activation == "sigmoid"
        and t.name.startswith(f"hf:{tiny_ast}@")
        and len(t.name.split("@")[-1]) == 12
    )
    y = np.stack([tone(440, 16000, 3.5), tone(2000, 16000, 3.5)])
    p = t.predict_patches(y)
    assert p.shape == (2, 3, 4) and p.dtype == np.float64 and ((p > 0) & (p < 1)).all()
    np.testing.assert_allclose(t.predict(y), p.mean(1))
    np.testing.assert_allclose(t.predict_patches(y[:, 16000:32000])[:, 0], p[:, 1], atol=1e-5)
    np.testing.assert_array_equal(t.predict(y), t.predict(y))  # deterministic
    soft = load_tagger(f"hf:{tiny_ast}", device="cpu", activation="softmax", window_seconds=0.5)
    assert soft.patch_length == 8000
    np.testing.assert_allclose(soft.predict_patches(y).sum(-1), 1.0)


def test_hf_time_resolved_values_are_exact(tiny_ast):
    t = load_tagger(f"hf:{tiny_ast}", device="cpu")
    time_resolved_exactness(t, 16000)


def test_hf_errors(tmp_path, tiny_ast):
    with pytest.raises(ModelNotFoundError, match="hf:./nowhere: no such folder"):
        load_tagger("hf:./nowhere")
    with pytest.raises(ModelNotFoundError, match="cannot load an audio-classification model from the folder"):
        load_tagger(f"hf:{tmp_path}")
    with pytest.raises(ModelNotFoundError, match="hf: needs a model"):
        load_tagger("hf:")
    with pytest.raises(ModelNotFoundError, match="huggingface-cli download"):
        load_tagger("hf:no-such-org/no-such-model", local_files_only=True)


def test_hf_missing_transformers_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"xmtag\[hf\]"):
        load_tagger("hf:anything")


def test_hf_name_changes_with_the_weights(tiny_ast, tmp_path):
    """explain() caches by tagger name: new weights in the same folder must not reuse old scores."""
    import shutil

    import transformers

    copy = tmp_path / "model"
    shutil.copytree(tiny_ast, copy)
    before = load_tagger(f"hf:{copy}", device="cpu").name
    model = transformers.ASTForAudioClassification.from_pretrained(copy)
    with torch.no_grad():
        model.classifier.dense.bias.add_(1.0)
    model.save_pretrained(copy)
    assert load_tagger(f"hf:{copy}", device="cpu").name != before


def test_hf_wav2vec2_without_a_fixed_input_length(tmp_path, caplog):
    """A tiny random Wav2Vec2 classifier: no input length in the extractor -> 1-s windows, softmax."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=20,
        conv_dim=(8, 8),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_feat_extract_layers=2,
        num_labels=3,
        classifier_proj_size=8,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        id2label={0: "yes", 1: "no", 2: "silence"},
        label2id={"yes": 0, "no": 1, "silence": 2},
    )
    transformers.Wav2Vec2ForSequenceClassification(config).save_pretrained(tmp_path)
    transformers.Wav2Vec2FeatureExtractor().save_pretrained(tmp_path)
    with caplog.at_level("INFO", logger="xmtag.taggers.hf"):
        t = load_tagger(f"hf:{tmp_path}", device="cpu")
    assert "no fixed input length" in caplog.text
    assert t.patch_length == 16000 and t.activation == "softmax" and t.labels == ["yes", "no", "silence"]
    p = t.predict_patches(np.stack([tone(300, 16000, 2.2)]))
    assert p.shape == (1, 2, 3)
    np.testing.assert_allclose(p.sum(-1), 1.0)
    time_resolved_exactness(t, 16000)
