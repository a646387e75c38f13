"""The musicnn and VGG networks of Pons & Serra (2019) as :class:`torch.nn.Module` s, inference only.

:class:`MusicnnNet` and :class:`VggNet` hold the converted weights as registered parameters
(``state_dict`` keys are those of the shipped ``xmtag/data/musicnn/*.safetensors`` files), so
``.to(device)``, ``.to("meta")``, ``state_dict`` and ``load_state_dict`` work as for any module.
Both take log-mel patches ``(B, 187, 96)`` and return sigmoid tag probabilities ``(B, 50)``.

Two forward passes compute the same function:

* :meth:`MusicnnNet.reference_forward` is the literal transcription of ``musicnn.models``
  (conv -> relu -> batch norm -> max over frequency, TensorFlow's asymmetric ``"same"``
  padding for even kernels, the max/mean-pool interleaving of the original ``concat`` +
  ``flatten``). It is kept as the readable specification and as the baseline of the tests.
* ``forward`` is the fast inference path, equal to it up to float32 summation order (largest
  difference of tag probabilities on 85 patches of recorded music: 8.3e-7 for musicnn, 1.2e-6
  for VGG, whose ``channels_last`` convolutions sum in another order; tested at 1e-6 / 2e-6).
  The exact algebraic rewrites are:

  - *batch norm folded into the preceding convolution*: batch norm follows the ReLU here, and
    ``a relu(z) + b = s relu(s a z) + b`` with ``s = sign(a)``, i.e. ``clamp(a z, min=0) + b``
    for ``a > 0`` and ``clamp(a z, max=0) + b`` for ``a < 0``; so ``a`` is multiplied into the
    conv weight and bias once (cached per device and weight version), leaving one ``clamp``
    with per-channel bounds and one ``add`` instead of ``relu``, ``mul`` and ``add``. The
    batch norm before the first dense layer (it follows a pooling, not a ReLU) is folded
    into the dense layer's weight and bias.
  - *pool before the affine*: ``max`` commutes with ``clamp`` (monotone) and with adding a
    bias, so the frequency max (front end) and the VGG max-pools are taken on the raw conv
    output, and the cheap element-wise work runs on the pooled, 30-60 times smaller tensor.
  - the two timbral convolutions (``7 x 38`` and ``7 x 67`` over one input channel, 81 % of
    the FLOPs) run as ``(7, 1)`` convolutions over the frequency offsets as input channels
    (an im2col along frequency only, ``channels_last``): measured 1.2x faster in float32 and
    2x faster in bfloat16 than the single-channel convolution (oneDNN, AVX-512);
  - the frequency max over the last axis is a pairwise-``maximum`` halving tree
    (:func:`_max_last`), measured 2.3x faster than ``amax(-1)`` on the 59-wide axis (13x on
    the ``channels_last`` output);
  - the three temporal ``(k, 1)`` convolutions run as one ``conv1d`` over all mel bands
    (bands as batch), measured 2.2x faster than the previous per-patch ``unfold`` + ``mm``;
  - VGG runs in ``channels_last`` memory format (oneDNN's preferred layout; 1.8x faster),
    with only the sign of the batch-norm scale folded into the weights and its magnitude
    applied after pooling.

bfloat16: under ``torch.autocast(device, dtype=torch.bfloat16)`` (what
``MusicnnTagger(precision="bf16")`` sets) ``forward`` runs musicnn's two timbral convolutions
and all five VGG convolutions in bfloat16 and everything else in float32 (autocast is switched
off inside, so no other operation changes precision). Their inputs are centred first
(:func:`_centred_bf16_conv`: ``conv(u) = conv(u - c) + c * sum(w)``, exact algebra with the
mean ``c`` per patch and input channel), which shrinks the bfloat16 rounding error 2-3 fold:
largest deviation from float32 on 85 patches of recorded music 4.0e-3 (musicnn-msd), 2.6e-3
(musicnn-mtt), 6.5e-3 / 4.6e-3 (VGG); plain autocast of the whole network deviates by 1.6e-2.

Gradients are not supported by ``forward`` (the folded weights are cached copies); use
:meth:`reference_forward` to differentiate through the network.

Examples
--------
>>> import torch
>>> net = MusicnnNet().eval()          # random weights: shapes only
>>> net(torch.zeros(2, 187, 96)).shape
torch.Size([2, 50])
>>> net.to("meta")(torch.zeros(2, 187, 96, device="meta")).device  # no data touched
device(type='meta')
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Affine", "MusicnnNet", "VggNet", "build_network"]

N_TAGS = 50
_FRONT = ("f74", "f77")
_TEMPORAL = (("s1", 128, 63, 64), ("s2", 64, 31, 32), ("s3", 32, 15, 16))  # name, kh, pad before/after
_MIDS = ("mid1", "mid2", "mid3")
_VGG_POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))


class Affine(nn.Module):
    """Batch norm in inference form, ``x * scale + shift`` per channel (``dim`` 1)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(n), requires_grad=False)
        self.shift = nn.Parameter(torch.zeros(n), requires_grad=False)

    def forward(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[dim] = -1
        return x * self.scale.view(shape) + self.shift.view(shape)


def _max_last(z: torch.Tensor) -> torch.Tensor:
    """``z.amax(-1)`` as a tree of element-wise maxima of overlapping halves (exact)."""
    while z.shape[-1] > 1:
        n = z.shape[-1]
        h = (n + 1) // 2
        z = torch.maximum(z[..., :h], z[..., n - h :])
    return z[..., 0]


def _bf16_requested(device_type: str) -> bool:
    """Whether the caller runs under ``torch.autocast(device_type, dtype=torch.bfloat16)``."""
    if device_type == "meta":  # no autocast there: shapes only
        return False
    try:
        on = torch.is_autocast_enabled(device_type)
        return on and torch.get_autocast_dtype(device_type) == torch.bfloat16
    except TypeError:  # torch < 2.4
        if device_type == "cpu":
            return torch.is_autocast_cpu_enabled() and torch.get_autocast_cpu_dtype() == torch.bfloat16
        return torch.is_autocast_enabled() and torch.get_autocast_gpu_dtype() == torch.bfloat16


def _centred_bf16_conv(u: torch.Tensor, w16: torch.Tensor, wsum: torch.Tensor, dims: tuple[int, ...]):
    """``conv2d(u, w)`` with bfloat16 products on ``u - c`` (``c``: the mean of ``u`` over ``dims``,
    per patch and input channel), plus ``c`` times the weight sums in float32, which is exact
    algebra: centring shrinks the rounding error of bfloat16 (2^-9 relative) 2-3 fold."""
    c = u.mean(dim=dims, keepdim=True)  # (B, C_in, 1, 1)
    y = F.conv2d((u - c).to(torch.bfloat16), w16)
    return y, torch.einsum("bi,oi->bo", c.flatten(1), wsum)  # (B, C_out) float32


def _clamp_bounds(scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel clamp bounds of ``sign(a) relu(sign(a) y)``: ``[0, inf)`` or ``(-inf, 0]``."""
    inf = torch.full_like(scale, float("inf"))
    zero = torch.zeros_like(scale)
    positive = scale > 0
    return torch.where(positive, zero, -inf), torch.where(positive, inf, zero)


class _Folded(nn.Module):
    """Shared machinery: folded inference weights, cached per device, dtype and weight version."""

    _cache_key: tuple | None = None
    _cache: dict[str, torch.Tensor] | None = None

    def _fold(self) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def folded(self) -> dict[str, torch.Tensor]:
        """The inference weights with batch norm folded in (recomputed after ``.to`` or a reload)."""
        key = tuple((id(p), p._version, p.device, p.dtype) for p in self.parameters())
        if self._cache_key != key or self._cache is None:
            with torch.no_grad():
                self._cache = self._fold()
            self._cache_key = key
        return self._cache

    def _fold_conv(self, out: dict, name: str, conv: nn.Module, bn: Affine) -> None:
        a = bn.scale
        shape = (-1,) + (1,) * (conv.weight.dim() - 1)
        out[name + ".w"] = (conv.weight * a.view(shape)).contiguous()
        out[name + ".b"] = conv.bias * a
        out[name + ".lo"], out[name + ".hi"] = _clamp_bounds(a)
        out[name + ".shift"] = bn.shift

    def _apply(self, fn, recurse: bool = True):  # .to(), .cuda(), .float(): drop the cached copies
        self._cache = self._cache_key = None
        return super()._apply(fn, recurse)


def _finish(y: torch.Tensor, f: dict[str, torch.Tensor], name: str, bias: bool = True) -> torch.Tensor:
    """``clamp(y + b, lo, hi) + shift`` per channel (dim 1)."""
    shape = (1, -1) + (1,) * (y.dim() - 2)
    if bias:
        y = y + f[name + ".b"].view(shape).to(y.dtype)
    lo, hi = f[name + ".lo"].view(shape).to(y.dtype), f[name + ".hi"].view(shape).to(y.dtype)
    return torch.clamp(y, lo, hi) + f[name + ".shift"].view(shape).to(y.dtype)


class MusicnnNet(_Folded):
    """musicnn (musically motivated front end, dense back end), 787 k parameters.

    ``state_dict`` keys: ``bn_in``, ``f74``, ``f77`` (timbral ``7 x 38`` / ``7 x 67`` convs, 204
    filters), ``s1``-``s3`` (temporal ``128/64/32 x 1`` convs, 51 filters), ``mid1``-``mid3``
    (``conv1d`` 64 filters, kernel 7), ``pool_bn``, ``dense`` (1506 -> 200), ``dense_bn``, ``out``
    (200 -> 50), each ``*_bn`` an :class:`Affine`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bn_in = Affine(1)
        self.f74, self.f74_bn = nn.Conv2d(1, 204, (7, 38)), Affine(204)
        self.f77, self.f77_bn = nn.Conv2d(1, 204, (7, 67)), Affine(204)
        for name, kh, _, _ in _TEMPORAL:
            setattr(self, name, nn.Conv2d(1, 51, (kh, 1)))
            setattr(self, name + "_bn", Affine(51))
        for i, name in enumerate(_MIDS):
            setattr(self, name, nn.Conv1d(561 if i == 0 else 64, 64, 7))
            setattr(self, name + "_bn", Affine(64))
        self.pool_bn = Affine(1506)
        self.dense, self.dense_bn = nn.Linear(1506, 200), Affine(200)
        self.out = nn.Linear(200, N_TAGS)
        for p in self.parameters():
            p.requires_grad_(False)

    # ------------------------------------------------------------------ the specification
    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The original network, operation by operation (slow; differentiable)."""
        x = self.bn_in(x.unsqueeze(1))  # (B, 1, T, 96)
        feats = []
        for name in _FRONT:  # timbral: "same" in time (pad 3/3), "valid" in frequency
            conv, bn = getattr(self, name), getattr(self, name + "_bn")
            y = bn(F.relu(conv(F.pad(x, (0, 0, 3, 3)))))
            feats.append(y.amax(dim=-1))  # (B, 204, T)
        xf = x.transpose(2, 3)  # (B, 1, 96, T): temporal kernels slide along time
        for name, kh, before, after in _TEMPORAL:
            conv, bn = getattr(self, name), getattr(self, name + "_bn")
            w = conv.weight.view(51, 1, 1, kh)
            y = bn(F.relu(F.conv2d(F.pad(xf, (before, after)), w, conv.bias)))
            feats.append(y.amax(dim=2))  # max over mels -> (B, 51, T)
        front = torch.cat(feats, dim=1)  # (B, 561, T)
        hs = [front]
        for i, name in enumerate(_MIDS):
            conv, bn = getattr(self, name), getattr(self, name + "_bn")
            h = bn(F.relu(conv(F.pad(hs[-1], (3, 3)))))
            hs.append(h if i == 0 else h + hs[-1])
        feat = torch.cat(hs, dim=1)  # (B, 753, T)
        pooled = torch.stack([feat.amax(dim=2), feat.mean(dim=2)], dim=2).flatten(1)  # interleaved
        h = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return torch.sigmoid(self.out(h))

    # ------------------------------------------------------------------ the fast path
    def _fold(self) -> dict[str, torch.Tensor]:
        f: dict[str, torch.Tensor] = {}
        for name in _FRONT:  # frequency offsets as input channels: (204, kw, 7, 1), channels_last
            self._fold_conv(f, name, getattr(self, name), getattr(self, name + "_bn"))
            w = f[name + ".w"].permute(0, 3, 2, 1).contiguous(memory_format=torch.channels_last)
            f[name + ".w"], f[name + ".w16"] = w, w.to(torch.bfloat16)
            f[name + ".wsum"] = w.sum(dim=(2, 3))  # (204, kw)
        for name, kh, _, _ in _TEMPORAL:
            self._fold_conv(f, name, getattr(self, name), getattr(self, name + "_bn"))
            f[name + ".w"] = f[name + ".w"].reshape(51, 1, kh).contiguous()
        for name in _MIDS:
            self._fold_conv(f, name, getattr(self, name), getattr(self, name + "_bn"))
        # dense(pool_bn(p)) = (W * scale) p + (b + W shift); then dense_bn folded as above
        w = self.dense.weight * self.pool_bn.scale.view(1, -1)
        b = self.dense.bias + self.dense.weight @ self.pool_bn.shift
        a = self.dense_bn.scale
        f["dense.w"], f["dense.b"] = (w * a.view(-1, 1)).contiguous(), b * a
        f["dense.lo"], f["dense.hi"] = _clamp_bounds(a)
        f["dense.shift"] = self.dense_bn.shift
        f["bn_in.scale"], f["bn_in.shift"] = self.bn_in.scale, self.bn_in.shift
        f["out.w"], f["out.b"] = self.out.weight, self.out.bias
        return f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tag probabilities ``(B, 50)`` of log-mel patches ``(B, 187, 96)`` (fast path)."""
        bf16 = _bf16_requested(x.device.type)
        if x.device.type == "meta":
            return self._forward(x.float(), bf16)
        with torch.autocast(x.device.type, enabled=False):
            return self._forward(x.float(), bf16)

    def _forward(self, x: torch.Tensor, bf16: bool) -> torch.Tensor:
        f = self.folded()
        b, t, n_mels = x.shape
        x = x * f["bn_in.scale"] + f["bn_in.shift"]
        xt = F.pad(x, (0, 0, 3, 3))  # (B, T + 6, 96)
        feats = []
        for k in _FRONT:
            kw = f[k + ".w"].shape[1]
            # im2col along frequency only: (B, kw, T + 6, F) channels_last, i.e. the unfold's own
            # memory order; oneDNN then runs a (7, 1) conv over kw channels, measured 1.2x faster
            # than the (7, kw) conv over one channel in float32 and 2x in bfloat16
            u = xt.unfold(2, kw, 1).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
            if bf16:  # the timbral convs (81 % of the FLOPs) in bfloat16, the rest in float32
                y, corr = _centred_bf16_conv(u, f[k + ".w16"], f[k + ".wsum"], (2, 3))
                m = _max_last(y).float() + corr.unsqueeze(-1)
            else:
                m = _max_last(F.conv2d(u, f[k + ".w"]))
            feats.append(_finish(m, f, k))
        bands = x.transpose(1, 2).reshape(b * n_mels, 1, t)  # every mel band as its own signal
        for name, _kh, before, after in _TEMPORAL:
            y = F.conv1d(F.pad(bands, (before, after)), f[name + ".w"])  # (B * 96, 51, T)
            feats.append(_finish(y.view(b, n_mels, 51, t).amax(dim=1), f, name))
        front = torch.cat(feats, dim=1)  # (B, 561, T)
        hs = [front]
        for i, name in enumerate(_MIDS):
            h = _finish(F.conv1d(hs[-1], f[name + ".w"], f[name + ".b"], padding=3), f, name, bias=False)
            hs.append(h if i == 0 else h + hs[-1])
        feat = torch.cat(hs, dim=1)  # (B, 753, T)
        pooled = torch.stack([feat.amax(dim=2), feat.mean(dim=2)], dim=2).flatten(1)
        h = _finish(F.linear(pooled, f["dense.w"], f["dense.b"]), f, "dense", bias=False)
        return torch.sigmoid(F.linear(h, f["out.w"], f["out.b"]))


class VggNet(_Folded):
    """The 5-layer VGG-like baseline (128 filters of ``3 x 3``), 606 k parameters.

    ``state_dict`` keys: ``bn_in``, ``conv1``-``conv5`` with ``conv1_bn``-``conv5_bn``, ``out``
    (256 -> 50).
    """

    def __init__(self) -> None:
        super().__init__()
        self.bn_in = Affine(1)
        for i in range(1, 6):
            setattr(self, f"conv{i}", nn.Conv2d(1 if i == 1 else 128, 128, 3, padding=1))
            setattr(self, f"conv{i}_bn", Affine(128))
        self.out = nn.Linear(256, N_TAGS)
        for p in self.parameters():
            p.requires_grad_(False)

    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The original network, operation by operation (slow; differentiable)."""
        x = self.bn_in(x.unsqueeze(1))
        for i, (k, s) in enumerate(_VGG_POOLS, start=1):
            x = getattr(self, f"conv{i}_bn")(F.relu(getattr(self, f"conv{i}")(x)))
            x = F.max_pool2d(x, kernel_size=k, stride=s)
        x = x.permute(0, 2, 3, 1).flatten(1)  # NHWC flatten, as TensorFlow
        return torch.sigmoid(self.out(x))

    def _fold(self) -> dict[str, torch.Tensor]:
        f: dict[str, torch.Tensor] = {}
        for i in range(1, 6):
            # only the sign of the batch-norm scale goes into the weights (exact); |scale| multiplies
            # the pooled output, 4-16x smaller: keeps float32 outputs within ~4e-7 of the reference
            name, conv, bn = f"conv{i}", getattr(self, f"conv{i}"), getattr(self, f"conv{i}_bn")
            sign = torch.where(bn.scale > 0, 1.0, -1.0).to(bn.scale)
            w = (conv.weight * sign.view(-1, 1, 1, 1)).contiguous(memory_format=torch.channels_last)
            f[name + ".w"], f[name + ".w16"], f[name + ".wsum"] = w, w.to(torch.bfloat16), w.sum(dim=(2, 3))
            f[name + ".b"], f[name + ".abs"], f[name + ".shift"] = conv.bias * sign, bn.scale.abs(), bn.shift
            f[name + ".lo"], f[name + ".hi"] = _clamp_bounds(bn.scale)
        f["bn_in.scale"], f["bn_in.shift"] = self.bn_in.scale, self.bn_in.shift
        f["out.w"], f["out.b"] = self.out.weight, self.out.bias
        return f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tag probabilities ``(B, 50)`` of log-mel patches ``(B, 187, 96)`` (fast path)."""
        bf16 = _bf16_requested(x.device.type)
        if x.device.type == "meta":
            return self._forward(x.float(), bf16)
        with torch.autocast(x.device.type, enabled=False):
            return self._forward(x.float(), bf16)

    def _forward(self, x: torch.Tensor, bf16: bool) -> torch.Tensor:
        f = self.folded()
        x = (x * f["bn_in.scale"] + f["bn_in.shift"]).unsqueeze(1)
        x = x.contiguous(memory_format=torch.channels_last)
        for i, (k, s) in enumerate(_VGG_POOLS, start=1):
            name = f"conv{i}"
            if bf16:  # every conv in bfloat16 on centred inputs, pooling and the rest in float32
                xp = F.pad(x, (1, 1, 1, 1)).contiguous(memory_format=torch.channels_last)
                y, corr = _centred_bf16_conv(xp, f[name + ".w16"], f[name + ".wsum"], (2, 3))
                y = F.max_pool2d(y, kernel_size=k, stride=s).float()
                y = y + (corr + f[name + ".b"]).view(y.shape[0], -1, 1, 1)
            else:
                y = F.conv2d(x, f[name + ".w"], f[name + ".b"], padding=1)
                y = F.max_pool2d(y, kernel_size=k, stride=s)
            shape = (1, -1, 1, 1)
            x = torch.clamp(y, f[name + ".lo"].view(shape), f[name + ".hi"].view(shape))
            x = x * f[name + ".abs"].view(shape) + f[name + ".shift"].view(shape)
        x = x.permute(0, 2, 3, 1).flatten(1)
        return torch.sigmoid(F.linear(x, f["out.w"], f["out.b"]))


def build_network(arch: str, state_dict: dict | None = None) -> MusicnnNet | VggNet:
    """A network of architecture ``"musicnn"`` or ``"vgg"`` in eval mode, optionally with weights.

    Parameters
    ----------
    arch : str
        ``"musicnn"`` or ``"vgg"``.
    state_dict : mapping of str to tensor or array, optional
        Weights with exactly the module's keys (e.g. a shipped ``.safetensors`` file); float32.

    Examples
    --------
    >>> build_network("vgg").out.weight.shape
    torch.Size([50, 256])
    """
    net = MusicnnNet() if arch == "musicnn" else VggNet()
    if state_dict is not None:
        tensors = {  # numpy arrays (possibly read-only cache memory maps) are copied
            k: v.float() if isinstance(v, torch.Tensor) else torch.from_numpy(np.array(v, dtype=np.float32))
            for k, v in state_dict.items()
        }
        net.load_state_dict(tensors, strict=True)
    return net.eval()
