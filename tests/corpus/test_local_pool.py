"""The local pool from every entry point a user has: a script without a main guard,
``python -c``, ``python -`` (stdin), a notebook-like ``__main__`` without a file, the CLI; no
worker outlives its parent (SIGKILL included); a broken pool is a run error, not track failures;
and a real Jupyter kernel (ipykernel, driven by jupyter_client)."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xmtag
from xmtag.corpus import runner

ROOT = Path(__file__).resolve().parents[2]  # subprocesses import this checkout's xmtag
SR = 16000
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def make_tracks(root: Path, n: int, seconds: float = 1.0, stems=("drums", "bass")) -> Path:
    t = np.arange(int(SR * seconds)) / SR
    for i in range(n):
        d = root / f"song{i}"
        d.mkdir(parents=True, exist_ok=True)
        for k, name in enumerate(stems):
            y = (0.1 + 0.05 * i + 0.1 * k) * np.sin(2 * np.pi * (150 + 40 * i + 300 * k) * t)
            xmtag.save_audio(d / f"{name}.wav", np.stack([y, 0.5 * y]).astype(np.float32), SR)
    return root


def _alive(pid: int) -> bool:
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _children(pid: int) -> set[int]:
    psutil = pytest.importorskip("psutil")
    try:
        return {c.pid for c in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def run_watched(cmd: list[str], *, stdin: str | None = None, kill_when=None, timeout: float = 120):
    """Run ``cmd``, collecting the pids of its descendants while it runs; SIGKILL it when
    ``kill_when(descendants)`` turns true. Returns (returncode, stderr, descendant pids)."""
    import tempfile

    err_file = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: never fills, never blocks
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=err_file,
        text=True,
        env=ENV,
        cwd=ROOT,
    )
    if stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        seen |= _children(proc.pid)
        if kill_when is not None and kill_when(seen):
            seen |= _children(proc.pid)
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        raise
    err_file.seek(0)
    err = err_file.read()
    err_file.close()
    return proc.returncode, err, seen


def assert_all_gone(pids: set[int], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)], "worker processes outlived their parent"


CODE = """
import sys
import xmtag
c = xmtag.corpus.explain(sys.argv[1], sys.argv[2], tagger="musicnn-msd", workers=2, progress=False)
print(len(c), len(c.failures))
"""


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    return make_tracks(tmp_path_factory.mktemp("pool") / "src", 2)


@pytest.fixture(scope="module")
def reference(src, tmp_path_factory) -> pd.DataFrame:
    c = xmtag.corpus.explain(src, tmp_path_factory.mktemp("ref") / "store", workers=0, progress=False)
    return c.table.sort_values(["track", "tag", "stem"]).reset_index(drop=True)


def check_store(store: Path, reference: pd.DataFrame) -> None:
    c = xmtag.corpus.load(store)
    assert c.failures.empty, c.failures.to_dict("records")
    assert c.tracks == ["song0", "song1"]
    table = c.table.sort_values(["track", "tag", "stem"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(table, reference, check_exact=False, atol=1e-6)


def _entry(kind: str, tmp_path: Path, src: Path) -> tuple[list[str], str | None]:
    store = str(tmp_path / "store")
    if kind == "script":  # as the README writes it: no `if __name__ == "__main__":` guard
        script = tmp_path / "run.py"
        script.write_text(CODE)
        return [sys.executable, str(script), str(src), store], None
    if kind == "-c":
        return [sys.executable, "-c", CODE, str(src), store], None
    if kind == "stdin":
        return [sys.executable, "-", str(src), store], CODE
    if kind == "notebook":  # a kernel's __main__: a module without a file, code run with exec()
        wrapper = textwrap.dedent(
            """
            import sys, types
            main = types.ModuleType("__main__")
            sys.modules["__main__"] = main
            exec(compile(sys.stdin.read(), "<ipython-input-1>", "exec"), main.__dict__)
            """
        )
        return [sys.executable, "-c", wrapper, str(src), store], CODE
    assert kind == "cli"
    cmd = [sys.executable, "-m", "xmtag", "-q", "corpus", "explain", str(src), "--out", store]
    return [*cmd, "--tagger", "musicnn-msd", "--workers", "2"], None


@pytest.mark.parametrize("kind", ["script", "-c", "stdin", "notebook", "cli"])
def test_the_local_pool_runs_from_every_entry_point(kind, src, reference, tmp_path):
    cmd, stdin = _entry(kind, tmp_path, src)
    rc, err, workers = run_watched(cmd, stdin=stdin)
    assert rc == 0, err
    assert "died" not in err and "Safe importing of main module" not in err, err
    assert workers, "no worker process was started: the pool was not used"
    check_store(tmp_path / "store", reference)
    assert_all_gone(workers)


SLOW = """
import sys
import xmtag
xmtag.corpus.explain(sys.argv[1], sys.argv[2], tagger="musicnn-msd", workers=2, progress=False,
                     cache=False, method="permutation", budget=64)
"""


def test_workers_exit_when_the_parent_is_killed(tmp_path):
    src = make_tracks(tmp_path / "src", 6, seconds=6.0, stems=("drums", "bass", "other", "vocals"))
    store = tmp_path / "store"
    script = tmp_path / "slow.py"
    script.write_text(SLOW)
    state: dict[str, float] = {}

    def busy(seen: set[int]) -> bool:  # the workers started and are computing for 2 s
        if "t" not in state and len(seen) >= 2:
            state["t"] = time.monotonic()
        return "t" in state and time.monotonic() - state["t"] > 2.0

    rc, err, workers = run_watched([sys.executable, str(script), str(src), str(store)], kill_when=busy)
    assert rc == -signal.SIGKILL, err
    assert len(workers) >= 2
    assert_all_gone(workers, within=10.0)


def test_a_broken_pool_is_a_run_error_and_records_no_failure(tmp_path, monkeypatch):
    from joblib.externals.loky import ProcessPoolExecutor

    src = make_tracks(tmp_path / "src", 3)

    def dying_pool(workers: int):  # every worker dies as it starts
        return ProcessPoolExecutor(max_workers=workers, initializer=functools.partial(os._exit, 3))

    monkeypatch.setattr(runner, "_new_pool", dying_pool)
    with pytest.raises(
        runner.PoolBrokenError, match="pool is broken: a worker died .* a fresh worker cannot run"
    ):
        xmtag.corpus.explain(src, tmp_path / "store", workers=2, progress=False)
    c = xmtag.corpus.load(tmp_path / "store")
    assert c.failures.empty and len(c) == 0


def test_a_second_run_on_a_store_is_refused_clearly(tmp_path):
    import socket

    src = make_tracks(tmp_path / "src", 1)
    holder = xmtag.corpus.Store(tmp_path / "store")
    holder.lock()  # another run holds the store
    try:
        with pytest.raises(
            xmtag.corpus.StoreBusyError, match=f"pid {os.getpid()} on host '{socket.gethostname()}'"
        ):
            xmtag.corpus.explain(src, tmp_path / "store", workers=0, progress=False)
    finally:
        holder.unlock()
    c = xmtag.corpus.explain(src, tmp_path / "store", workers=0, progress=False)  # free again
    assert len(c) == 1 and c.failures.empty


RACE = """
import sys, time
import xmtag
try:
    xmtag.corpus.explain(sys.argv[1], sys.argv[2], tagger="musicnn-msd", workers=0, progress=False)
except xmtag.corpus.StoreBusyError as exc:
    print("BUSY", exc, file=sys.stderr)
    sys.exit(3)
"""


def test_two_runs_creating_one_store_at_once(tmp_path):
    src = make_tracks(tmp_path / "src", 2)
    store = tmp_path / "store"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(src), str(store)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=ENV,
            cwd=ROOT,
        )
        for _ in range(3)
    ]
    outs = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for rc, err in outs:  # each one ran, or was refused as busy; never "not an xmtag corpus store"
        assert rc in (0, 3), err
        assert "not an xmtag corpus store" not in err
        if rc == 3:
            assert "is being written by another run (pid" in err
    assert any(rc == 0 for rc, _ in outs)
    c = xmtag.corpus.load(store)
    assert c.tracks == ["song0", "song1"] and c.failures.empty
    assert json.loads((store / "corpus.json").read_text())["format"] == "xmtag.corpus"


def _kill_on_song1(task):  # run in a loky worker (pickled by value: see the test)
    if task["track"] == "song1":
        os._exit(9)  # this track takes its worker down (as the OOM killer would)
    return runner.explain_task(task)


def test_a_track_that_kills_its_worker_fails_alone_and_the_others_are_done(tmp_path, monkeypatch):
    cloudpickle = pytest.importorskip("cloudpickle")  # what loky pickles tasks with

    src = make_tracks(tmp_path / "src", 2)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import tests
    monkeypatch.setattr(runner, "explain_task", _kill_on_song1)
    try:
        c = xmtag.corpus.explain(src, tmp_path / "store", workers=2, progress=False)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert c.tracks == ["song0"]
    (reason,) = c.failures[c.failures.track == "song1"].reason
    assert "died while explaining this track on its own" in reason and len(c.failures) == 1


def test_the_local_pool_runs_in_a_real_jupyter_kernel(src, reference, tmp_path):
    """A notebook's kernel (ipykernel): the user's code runs in a `__main__` that no worker can re-import."""
    pytest.importorskip("ipykernel", reason="needs ipykernel (the [test] extra)")
    jc = pytest.importorskip("jupyter_client", reason="needs jupyter_client (the [test] extra)")
    store = tmp_path / "store"
    code = CODE.replace("sys.argv[1]", repr(str(src))).replace("sys.argv[2]", repr(str(store)))
    km = jc.KernelManager(kernel_name="python3")
    km.start_kernel(env=ENV, cwd=str(tmp_path))
    kc = km.blocking_client()
    seen: set[int] = set()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        pid = km.provisioner.pid if km.provisioner is not None else None
        outputs: list[str] = []

        def collect(msg: dict) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                outputs.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                outputs.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])
            if pid is not None:
                seen.update(_children(pid))

        reply = kc.execute_interactive(code, timeout=180, output_hook=collect)
        assert reply["content"]["status"] == "ok", outputs
        assert "".join(outputs).split() == ["2", "0"], outputs  # 2 tracks, 0 failures
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    check_store(store, reference)
    assert_all_gone(seen)
