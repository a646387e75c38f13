"""``xmtag tag`` on a 10-minute recording under a memory limit that the whole-file path exceeds (#27).

Measured 2026-12-07 on the 2-core development VM (torch, numpy and soundfile of the project's
venv, one torch thread), with ``RLIMIT_DATA`` (the heap and private writable mappings;
``RLIMIT_AS`` would also count the hundreds of MB of address space that torch's shared
libraries map, which no array ever uses):

* the interpreter with torch and musicnn-msd loaded: 181 MB of data (``VmData``);
* ``xmtag tag`` (streamed: ``xmtag.audio.stream_audio`` + ``xmtag.taggers.stream_patches``)
  succeeds with a limit of 485 MB and fails with 470 MB, i.e. it needs about 290-305 MB above
  that base (0.56 GB peak resident);
* the whole-file path of xmtag 0bde8d5 (the file at its own rate, then its mono mix, then the
  16-kHz copy, then ``predict_patches`` of the whole clip) fails with 500 and 580 MB and
  succeeds with 600 MB: reading alone allocates 212 + 106 + 38 = 356 MB above the base
  (0.68 GB peak resident).

The limit is the base measured in a first child process plus 330 MB: below the 356 MB that the
whole-file read needs, 25-40 MB above what the streamed command needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA and /proc are Linux"),
]

REPO = Path(__file__).resolve().parents[2]

#: data allowed above the measured base (MB): less than the 356 MB of the whole-file read
HEADROOM_MB = 330

_BASE = """
import torch
from xmtag.taggers import load_tagger
load_tagger("musicnn-msd", num_threads=1)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(status["VmData"].split()[0]) // 1024)
"""

# What `xmtag tag FILE` did before streaming (xmtag 0bde8d5: load_audio(file, sr, mono) read the
# whole file, mixed it to mono and resampled it; _scores ran predict_patches on the whole clip).
_WHOLE_FILE = """
import sys
import numpy as np
from xmtag.audio import load_audio, resample, to_mono
from xmtag.taggers import load_tagger
tagger = load_tagger("musicnn-msd", num_threads=1)
y, sr = load_audio(sys.argv[1])
y = resample(to_mono(y), sr, tagger.sample_rate)
patches = np.asarray(tagger.predict_patches(y))
print("tagged", patches.shape)
"""

_OUT_OF_MEMORY = ("MemoryError", "Cannot allocate memory", "Unable to allocate", "bad_alloc")


def _ten_minutes(path: Path) -> Path:
    """A 10-minute stereo 44.1-kHz 16-bit WAV (101 MB): two tones and a seeded noise floor."""
    sr = 44100
    rng = np.random.default_rng(0)
    t = np.arange(30 * sr) / sr
    block = np.stack(
        [
            0.4 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size),
            0.3 * np.sin(2 * np.pi * 331 * t) + 0.01 * rng.standard_normal(t.size),
        ],
        axis=1,
    ).astype(np.float32)
    with sf.SoundFile(path, "w", sr, 2, subtype="PCM_16") as fh:
        for _ in range(20):
            fh.write(block)
    return path


def _run(args: list[str], limit_mb: int | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def limit() -> None:
        import resource

        if limit_mb is not None:
            hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
            resource.setrlimit(resource.RLIMIT_DATA, (limit_mb << 20, hard))

    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=600,
    )


def test_ten_minutes_are_tagged_under_a_limit_the_whole_file_path_exceeds(tmp_path):
    """``xmtag tag`` on 10 minutes of stereo 44.1-kHz audio runs with its data limited to the
    interpreter + torch + musicnn base (about 181 MB here) plus 330 MB (about 511 MB here); the
    whole-file read and tagging of xmtag 0bde8d5, emulated, needs 356 MB above the base for the
    read alone and runs out of memory under the same limit."""
    pytest.importorskip("torch")
    wav = _ten_minutes(tmp_path / "ten_minutes.wav")
    base = _run(["-c", textwrap.dedent(_BASE)])
    assert base.returncode == 0, base.stderr[-2000:]
    limit_mb = int(base.stdout.split()[-1]) + HEADROOM_MB

    streamed = _run(["-m", "xmtag", "-q", "tag", str(wav), "--threads", "1", "--top", "3"], limit_mb)
    assert streamed.returncode == 0, f"xmtag tag failed under {limit_mb} MB:\n{streamed.stderr[-3000:]}"
    assert len(streamed.stdout.strip().splitlines()) == 3  # the top 3 tags as bars

    whole = _run(["-c", textwrap.dedent(_WHOLE_FILE), str(wav)], limit_mb)
    assert whole.returncode != 0, f"the whole-file path fit in {limit_mb} MB: the limit proves nothing"
    assert any(s in whole.stderr for s in _OUT_OF_MEMORY), whole.stderr[-3000:]
