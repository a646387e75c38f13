"""musicnn as torch modules: shipped weights (bit for bit against the original checkpoints),
the fast path against the literal transcription, devices (CPU, meta, CUDA when present),
per-thread limits that leave torch's global state alone, and bfloat16."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import xmtag
from xmtag.errors import CheckpointError, TaggerError, XmtagError
from xmtag.taggers import musicnn_weights as mw
from xmtag.taggers.musicnn import MODELS, MusicnnTagger
from xmtag.taggers.musicnn_net import MusicnnNet, VggNet, build_network

DATA = Path(__file__).parents[1] / "data" / "musicnn"
FOLDERS = {name: folder for name, (folder, _arch, _labels) in MODELS.items()}
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to torch")


@pytest.fixture(scope="module")
def mel() -> np.ndarray:
    """Five log-mel patches of the committed recorded clip (15 s of a rock song)."""
    y, _ = xmtag.load_audio(DATA / "clip.flac", mono=True)
    return xmtag.taggers.musicnn.log_mel(y)[0, : 5 * 187].reshape(5, 187, 96)


# --------------------------------------------------------------------------- shipped weights
@pytest.mark.parametrize("folder", sorted(FOLDERS.values()))
def test_shipped_weights_equal_the_conversion_of_the_original_checkpoints(folder):
    """xmtag/data/musicnn holds convert_checkpoint() of musicnn 0.1.0's checkpoints, bit for bit."""
    pytest.importorskip("musicnn", reason="the original checkpoints: pip install --no-deps musicnn==0.1.0")
    ckpt = mw.musicnn_checkpoint(folder)
    shipped = mw.shipped_weights(folder)
    converted = mw.convert_checkpoint(ckpt, mw._ARCH[folder])
    assert sorted(shipped) == sorted(converted)
    for key, want in converted.items():
        got = shipped[key].numpy()
        assert got.dtype == np.float32 and got.shape == want.shape, key
        assert got.tobytes() == want.tobytes(), key
    assert mw.shipped_manifest()[folder]["checkpoint_digest"] == mw.checkpoint_digest(ckpt)


def test_manifest_hashes_and_licence():
    manifest = mw.shipped_manifest()
    for folder, entry in manifest.items():
        path = mw.shipped_weights_path(folder)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert entry["parameters"] in (787_159, 605_748)
    licence = (mw.shipped_weights_path("MSD_musicnn").parent / "LICENSE").read_text()
    assert "Permission to use, copy, modify, and/or distribute" in licence  # the ISC notice
    assert "Music Technology Group, Universitat Pompeu Fabra" in licence


def test_damaged_shipped_weights_are_an_error(tmp_path, monkeypatch):
    src = mw._data_dir()
    dst = tmp_path / "musicnn"
    shutil.copytree(src, dst)
    raw = bytearray((dst / "MSD_musicnn.safetensors").read_bytes())
    raw[-100] ^= 0x01
    (dst / "MSD_musicnn.safetensors").write_bytes(bytes(raw))
    monkeypatch.setattr(mw, "_data_dir", lambda: dst)
    with pytest.raises(CheckpointError, match="corrupt.*reinstall xmtag"):
        MusicnnTagger("musicnn-msd", device="cpu")
    (dst / "weights.json").unlink()
    with pytest.raises(xmtag.errors.ModelNotFoundError, match="manifest.*reinstall"):
        MusicnnTagger("musicnn-msd", device="cpu")


# --------------------------------------------------------------------------- modules
@pytest.mark.parametrize("model", sorted(MODELS))
def test_fast_path_equals_the_literal_transcription(model, mel):
    """Folded batch norm, pooling first, conv1d bands, channels_last: same tags within 1e-6."""
    net = MusicnnTagger(model, device="cpu").module
    x = torch.from_numpy(mel)
    with torch.inference_mode():
        fast, spec = net(x), net.reference_forward(x)
    assert fast.shape == (5, 50)
    # float32 summation order only: musicnn measured <= 8.3e-7 on 85 patches of real music; VGG
    # (channels_last, 1.8x faster) up to 1.2e-6
    assert (fast - spec).abs().max().item() < (1e-6 if model.startswith("musicnn") else 2e-6)


def test_state_dict_and_registered_parameters():
    tagger = MusicnnTagger("musicnn-msd", device="cpu")
    net = tagger.module
    assert isinstance(net, MusicnnNet) and isinstance(net, torch.nn.Module)
    state = net.state_dict()
    assert sorted(state) == sorted(mw.shipped_weights("MSD_musicnn"))
    assert tagger.n_parameters == sum(v.numel() for v in state.values()) == 787_159
    assert isinstance(MusicnnTagger("msd-vgg", device="cpu").module, VggNet)
    # a reload through load_state_dict invalidates the folded copies
    x = torch.zeros(1, 187, 96)
    before = net(x).clone()
    other = mw.shipped_weights("MTT_musicnn")
    net.load_state_dict(other)
    after = net(x)
    assert (after - before).abs().max() > 1e-3
    assert (after - net.reference_forward(x)).abs().max() < 1e-6


@pytest.mark.parametrize("arch", ["musicnn", "vgg"])
def test_meta_device_moves_without_data(arch):
    net = build_network(arch)  # random weights
    cpu_weight = net.out.weight
    moved = net.to("meta")
    assert moved is net and all(p.device.type == "meta" for p in net.parameters())
    assert cpu_weight.device.type == "cpu"  # the CPU tensor still exists: nothing was copied into it
    out = net(torch.zeros(3, 187, 96, device="meta"))
    assert out.shape == (3, 50) and out.device.type == "meta"


def test_tagger_on_meta_refuses_to_compute():
    tagger = MusicnnTagger("mtt-vgg", device="meta")
    assert tagger.device.type == "meta"
    with pytest.raises(TaggerError, match="'meta' device.*tagger.to"):
        tagger.predict(np.zeros((1, 47872), np.float32))


def test_device_auto_and_errors(monkeypatch):
    tagger = MusicnnTagger("musicnn-msd")
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert tagger.device.type == want and next(tagger.module.parameters()).device.type == want
    monkeypatch.setenv("XMTAG_DEVICE", "cpu")
    assert MusicnnTagger("musicnn-msd").device.type == "cpu"
    with pytest.raises(XmtagError, match="device must be"):
        MusicnnTagger("musicnn-msd", device="tpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(XmtagError, match="no CUDA GPU"):
            MusicnnTagger("musicnn-msd", device="cuda")
    with pytest.raises(XmtagError, match="precision must be one of 'fp32', 'bf16'"):
        MusicnnTagger("musicnn-msd", precision="fp16")
    with pytest.raises(TaggerError, match="batch_size must be a positive integer"):
        MusicnnTagger("musicnn-msd", batch_size=0)


@needs_cuda
@pytest.mark.parametrize("model", ["musicnn-msd", "msd-vgg"])
def test_cuda_matches_cpu(model, mel):
    cpu = MusicnnTagger(model, device="cpu")
    gpu = MusicnnTagger(model, device="cuda")
    assert gpu.batch_size == 64 and next(gpu.module.parameters()).is_cuda
    y, _ = xmtag.load_audio(DATA / "clip.flac", mono=True)
    np.testing.assert_allclose(gpu.predict_patches(y), cpu.predict_patches(y), atol=1e-4, rtol=0)
    np.testing.assert_allclose(gpu.predict_mel(mel), cpu.predict_mel(mel), atol=1e-4, rtol=0)
    assert gpu.to("cpu").device.type == "cpu"


# --------------------------------------------------------------------------- threads
def test_threads_never_change_torch_global_state(mel):
    """Prediction from a worker thread with num_threads=2 leaves the main thread's count and
    the count that new threads start with untouched (torch.set_num_threads is never called)."""
    main_before = torch.get_num_threads()
    tagger = MusicnnTagger("musicnn-msd", device="cpu", num_threads=2)
    one = MusicnnTagger("musicnn-msd", device="cpu", num_threads=1)
    results, seen = {}, {}

    def worker() -> None:
        seen["before"] = torch.get_num_threads()
        results["two"] = tagger.predict_mel(mel)
        results["one"] = one.predict_mel(mel)
        seen["after"] = torch.get_num_threads()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["after"] == seen["before"]
    assert torch.get_num_threads() == main_before

    def fresh() -> None:
        seen["fresh"] = torch.get_num_threads()

    t = threading.Thread(target=fresh)
    t.start()
    t.join()
    assert seen["fresh"] == seen["before"]  # what a new thread starts with did not change
    np.testing.assert_array_equal(results["two"], results["one"])  # thread count never changes results


# --------------------------------------------------------------------------- bfloat16
def test_bf16_is_close_to_fp32_and_named_apart(mel):
    fp32 = MusicnnTagger("musicnn-msd", device="cpu")
    bf16 = MusicnnTagger("musicnn-msd", device="cpu", precision="bf16")
    assert bf16.name == "musicnn-msd+bf16" and fp32.name == "musicnn-msd"  # never share cache entries
    a, b = fp32.predict_mel(mel), bf16.predict_mel(mel)
    assert b.dtype == np.float32
    dev = np.abs(a - b).max()
    assert 0 < dev < 2e-2  # bfloat16 really ran (not float32), and stays close (measured ~2e-3)


# --------------------------------------------------------------------------- CLI
def test_cli_tag_device_and_precision(capsys):
    from xmtag.cli import main

    assert main(["tag", str(DATA / "clip.flac"), "--top", "1", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.split()[0] == "rock"
    assert main(["tag", str(DATA / "clip.flac"), "--top", "1", "--precision", "bf16", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.split()[0] == "rock"
    assert main(["tag", str(DATA / "clip.flac"), "--device", "nonsense"]) == 1
    assert "device must be" in capsys.readouterr().err


def test_limit_threads_also_limits_torchs_mkl_per_thread():
    """The MKL inside libtorch_cpu keeps its own per-thread count: limit_threads sets and restores it."""
    from xmtag import _threads

    fn = _threads._mkl_local()
    if fn is None:
        pytest.skip("this torch build exports no MKL_Set_Num_Threads_Local (not an MKL build)")

    def read() -> int:
        v = fn(0)
        fn(v)
        return v

    main_before = read()
    seen = {}

    def worker() -> None:
        torch.get_num_threads()  # torch's per-thread initialisation
        seen["before"] = read()
        with _threads.limit_threads(1):
            seen["inside"] = read()
        seen["after"] = read()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["inside"] == 1 and seen["after"] == seen["before"]
    assert read() == main_before  # the main thread's setting never moved
