"""Hostile corpus, issue #24 part 2: nothing untrusted runs. Real pickles whose payload would
create a file if it ran (``open(path, "w")``); each case asserts the specific refusal and that
the file was NOT created and nothing around the model changed."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_support import tree_hash

from xmtag.errors import ModelNotFoundError, UnsafeModelFileError, XmtagError

torch = pytest.importorskip("torch")


class Payload:
    """Pickles to ``open(target, "w")``: harmless, but it leaves a file behind if it ever runs."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def _check_refused(exc_info, path, witness):
    msg = str(exc_info.value)
    assert isinstance(exc_info.value, XmtagError)
    assert str(path) in msg and "weights_only=True" in msg and "nothing in it was run" in msg
    assert "builtins.open" in msg or "Unsupported" in msg
    assert not witness.exists()


def test_demucs_th_with_a_code_running_pickle_is_refused(tmp_path):
    pytest.importorskip("demucs")
    from demucs.htdemucs import HTDemucs

    from xmtag.separation import Separator

    repo = tmp_path / "repo"
    repo.mkdir()
    witness = tmp_path / "pwned"
    package = {"klass": HTDemucs, "args": [], "kwargs": {}, "state": {}, "training_args": Payload(witness)}
    torch.save(package, repo / "evil.th")
    before = tree_hash(tmp_path)
    sep = Separator("evil", repo=repo, cache=False, progress=False)
    with pytest.raises(UnsafeModelFileError) as info:
        sep.model  # noqa: B018 - loading is what is tested
    _check_refused(info, repo / "evil.th", witness)
    assert "Demucs" in str(info.value) and "--repo" in str(info.value)
    assert tree_hash(tmp_path) == before


def test_demucs_th_naming_a_non_demucs_class_is_refused(tmp_path):
    pytest.importorskip("demucs")
    import fractions

    from xmtag.separation import Separator

    repo = tmp_path / "repo"
    repo.mkdir()
    torch.save({"klass": fractions.Fraction, "args": [1, 2], "kwargs": {}, "state": {}}, repo / "odd.th")
    with pytest.raises(ModelNotFoundError, match=r"odd\.th.* is not a Demucs model package"):
        Separator("odd", repo=repo, cache=False, progress=False).model  # noqa: B018


def test_hf_pickle_pytorch_model_bin_is_refused(tmp_path):
    transformers = pytest.importorskip("transformers")
    from xmtag.taggers.hf import HFTagger

    config = transformers.ASTConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_mel_bins=16,
        max_length=100,
        num_labels=2,
        id2label={0: "a", 1: "b"},
        label2id={"a": 0, "b": 1},
    )
    folder = tmp_path / "model"
    config.save_pretrained(folder)
    transformers.ASTFeatureExtractor(num_mel_bins=16, max_length=100).save_pretrained(folder)
    witness = tmp_path / "pwned"
    torch.save({"weight": Payload(witness)}, folder / "pytorch_model.bin")
    before = tree_hash(tmp_path)
    with pytest.raises(UnsafeModelFileError) as info:
        HFTagger(str(folder))
    _check_refused(info, folder, witness)
    assert "safetensors" in str(info.value)
    assert tree_hash(tmp_path) == before


def test_whisper_pt_with_a_code_running_pickle_is_refused(tmp_path):
    pytest.importorskip("whisper")
    from xmtag.speech.models import load_model

    witness = tmp_path / "pwned"
    pt = tmp_path / "evil.pt"
    torch.save({"dims": {"n_mels": 80}, "model_state_dict": Payload(witness)}, pt)
    before = tree_hash(tmp_path)
    with pytest.raises(UnsafeModelFileError) as info:
        load_model(str(pt), backend="whisper", device="cpu")
    _check_refused(info, pt, witness)
    assert tree_hash(tmp_path) == before


def test_spleeter_checkpoint_with_a_code_running_pickle_is_refused(tmp_path):
    from xmtag.separation._spleeter import _read_checkpoint

    witness = tmp_path / "pwned"
    ckpt = tmp_path / "vocals.pt"
    torch.save({"down1_conv.1.weight": np.zeros((3, 3), np.float32), "x": Payload(witness)}, ckpt)
    with pytest.raises(UnsafeModelFileError) as info:
        _read_checkpoint(ckpt)
    _check_refused(info, ckpt, witness)
    assert "pip install --force-reinstall" in str(info.value)


def test_the_payload_really_would_run_without_weights_only(tmp_path):
    # the control: the same pickle loaded the unsafe way does create the file
    witness = tmp_path / "pwned"
    torch.save({"x": Payload(witness)}, tmp_path / "f.pt")
    torch.load(tmp_path / "f.pt", weights_only=False)
    assert witness.exists()


def test_voice_encoder_weights_with_a_code_running_pickle_are_refused(tmp_path):
    from xmtag.speech._embedding import VoiceEncoder

    witness = tmp_path / "pwned"
    pt = tmp_path / "encoder.pt"
    torch.save({"model_state": Payload(witness)}, pt)
    with pytest.raises(UnsafeModelFileError) as info:
        VoiceEncoder(pt)
    _check_refused(info, pt, witness)
