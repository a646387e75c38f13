"""xmtag as a plain wheel: ``python -m build`` makes an sdist and, from it, a wheel that carry the
demo song, the musicnn weights and the licences; the wheel, installed (not editable) into a
fresh virtual environment that has only the CPU build of torch preinstalled, runs ``xmtag demo``
with the network switched off (proxies pointing nowhere, Hugging Face offline).

Slow (a few minutes: it installs torch and xmtag's dependencies into a new venv); run by
``make test-wheel`` and in CI (``.ci/run``). Needs the ``build`` package (``[test]`` extra) and a
package index for the dependencies (PyPI or a local mirror), as any ``pip install`` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.wheel]

ROOT = Path(__file__).resolve().parents[1]
TORCH = os.environ.get("XMTAG_TEST_TORCH", "torch==2.13.0")
SHIPPED = [
    "xmtag/data/demo/LICENSE",
    "xmtag/data/demo/guitar.ogg",
    "xmtag/data/demo/saxophone.ogg",
    "xmtag/data/musicnn/LICENSE",
    "xmtag/data/musicnn/weights.json",
    *(f"xmtag/data/musicnn/{m}.safetensors" for m in ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")),
]


def _run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert out.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    )
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("build", reason="python -m build: the [test] extra installs it")
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], timeout=900
    )  # sdist, then wheel from it
    wheels, sdists = sorted(out.glob("xmtag-*.whl")), sorted(out.glob("xmtag-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_wheel_and_sdist_carry_data_and_licences(dist):
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    for f in SHIPPED:
        assert f in names, f
    assert any(n.endswith(".dist-info/licenses/xmtag/data/musicnn/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)
    with tarfile.open(dist["sdist"]) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    for f in [*SHIPPED, "LICENSE", "pyproject.toml"]:
        assert f in members, f
    size = dist["wheel"].stat().st_size
    assert 5e6 < size < 40e6, f"wheel size {size / 1e6:.1f} MB"


def test_wheel_installs_into_a_fresh_venv_and_runs_the_demo_offline(dist, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, TORCH], timeout=1200)  # the CPU build first, as the README says
    _run([*pip, str(dist["wheel"])], timeout=1800)
    where = _run(
        [str(py), "-c", "import xmtag, torch; print(xmtag.__file__); print(torch.__version__)"],
        timeout=300,
        cwd=tmp_path,
    ).stdout.split()
    assert str(venv) in where[0] and "site-packages" in where[0]  # the installed copy, not this checkout
    _run([str(py), "-c", "import importlib.util as u; assert u.find_spec('musicnn') is None"], timeout=60)
    offline = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "PYTHONPATH"}
    offline.update(
        HF_HUB_OFFLINE="1",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        XMTAG_CACHE=str(tmp_path / "cache"),
        XMTAG_DEVICE="cpu",
        MPLBACKEND="Agg",
    )
    out = tmp_path / "demo"
    _run(
        [str(venv / "bin" / "xmtag"), "-q", "demo", "--out", str(out)],
        timeout=1200,
        cwd=tmp_path,
        env=offline,
    )
    assert (out / "report.html").is_file()
    saved = sorted(out.glob("*.xmtag"))
    assert saved, sorted(p.name for p in out.iterdir())
    check = (
        "import sys, numpy as np, xmtag\n"
        "e = xmtag.Explanation.load(sys.argv[1])\n"
        "assert len(e.stems) == 5 and 'rock' in e.labels\n"
        "assert np.abs(e.base_values + e.values.sum(0) - e.prediction).max() < 1e-5\n"
        "print(e.top_tags(3))\n"
    )
    _run([str(py), "-c", check, str(saved[0])], timeout=300, cwd=tmp_path, env=offline)
