"""Write the musicnn weights that ship inside xmtag (``xmtag/data/musicnn/``).

Converts the four TensorFlow checkpoints of the installed ``musicnn`` package
(``pip install --no-deps musicnn==0.1.0``) with :func:`xmtag.taggers.musicnn_weights.convert_checkpoint`
and writes ``<MODEL>.safetensors`` (float32, tensor names = the ``state_dict`` keys of
:mod:`xmtag.taggers.musicnn_net`) plus ``weights.json`` (each file's SHA-256 and the digest of the
checkpoint it came from)::

    python benchmarks/tools/export_musicnn_weights.py [--out xmtag/data/musicnn]

``tests/test_musicnn_weights.py`` checks that the committed files equal this conversion bit for bit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MODELS = {"MSD_musicnn": "musicnn", "MTT_musicnn": "musicnn", "MSD_vgg": "vgg", "MTT_vgg": "vgg"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "xmtag" / "data" / "musicnn")
    args = p.parse_args(argv)
    from safetensors.numpy import save

    from xmtag.taggers import musicnn_weights as mw

    args.out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {
        "source": "musicnn 0.1.0 (PyPI), https://github.com/jordipons/musicnn, ISC licence (see LICENSE)",
        "converter_version": mw.CONVERTER_VERSION,
        "models": {},
    }
    for name, arch in MODELS.items():
        folder = mw.musicnn_checkpoint(name)
        arrays = mw.convert_checkpoint(folder, arch)
        meta = {"model": name, "arch": arch, "source": "musicnn 0.1.0", "licence": "ISC"}
        blob = save(dict(sorted(arrays.items())), metadata=meta)
        path = args.out / f"{name}.safetensors"
        path.write_bytes(blob)
        manifest["models"][name] = {
            "file": path.name,
            "arch": arch,
            "sha256": hashlib.sha256(blob).hexdigest(),
            "checkpoint_digest": mw.checkpoint_digest(folder),
            "parameters": int(sum(a.size for a in arrays.values())),
            "bytes": len(blob),
        }
        print(f"{path}: {len(blob) / 1e6:.2f} MB, {manifest['models'][name]['parameters']} parameters")
    (args.out / "weights.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
