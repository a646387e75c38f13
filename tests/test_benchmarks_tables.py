"""The README's benchmark tables are generated from the result JSONs, and the results are current.

``test_readme_table_matches_its_json`` fails when a table in ``benchmarks/README.md`` differs
from what ``benchmarks/tables.py`` generates from ``benchmarks/results/*.json`` (someone typed
into it, or a result was rerun without regenerating the tables). ``test_result_is_current``
fails when a result's recorded source hash differs from the files it depends on today (its
script's ``DEPENDS``): the message names the command that regenerates it
(``python benchmarks/run_all.py --only-stale`` reruns all of them). The rest test the
mechanism on a scratch copy.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    for folder in (str(BENCH), str(BENCH / "data")):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    key = f"_bench_tables_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


tables = _load("tables")
common = sys.modules["_common"]
README_TEXT = (BENCH / "README.md").read_text()
MARKED = tables.markers(README_TEXT)
RESULTS = tables.benchmarks()


def test_readme_has_generated_tables_and_every_generator_is_used():
    assert len(MARKED) == len(set(MARKED)), "a table marker appears twice in benchmarks/README.md"
    unused = sorted(set(tables.TABLES) - set(MARKED))
    assert not unused, f"tables.py generates {unused} but benchmarks/README.md has no marker for them"


@pytest.mark.parametrize("name", MARKED)
def test_readme_table_matches_its_json(name):
    body = {m.group("name"): m.group("body") for m in tables.MARKER.finditer(README_TEXT)}[name]
    expected = tables.render([name])[name]
    assert body == expected, (
        f"benchmarks/README.md table {name!r} differs from its JSON: run `python benchmarks/tables.py` "
        "(never edit a generated table by hand)"
    )


@pytest.mark.bench_current
@pytest.mark.parametrize("name", sorted(RESULTS))
def test_result_is_current(name):
    why = tables.staleness(name, RESULTS[name])
    assert why is None, f"stale benchmark result: {why}"


def test_every_result_writing_script_declares_its_sources():
    writers = [
        p
        for p in sorted(BENCH.glob("*.py"))
        if not p.name.startswith("_") and "write_result(" in p.read_text() and p.name not in tables.UNTRACKED
    ]
    assert writers
    for script in writers:
        decl = common.declared(script)
        assert decl.get("DEPENDS"), f"{script.name} writes a result but declares no DEPENDS"
        assert decl.get("RESULTS"), f"{script.name} writes a result but declares no RESULTS"
        common.source_files(script)  # every entry exists


# ----------------------------------------------------------------- the mechanism, on a scratch repo


@pytest.fixture
def scratch(tmp_path):
    """A repository with one benchmark, its harness and one dependency."""
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "benchmarks" / "_common.py").write_text("# harness\n")
    (tmp_path / "pkg" / "sub" / "a.py").write_text("A = 1\n")
    (tmp_path / "pkg" / "other.py").write_text("B = 1\n")
    script = tmp_path / "benchmarks" / "bench.py"
    script.write_text('DEPENDS = ("pkg/sub",)\nRESULTS = {"bench": ([], 1)}\n')
    return tmp_path, script


def test_fingerprint_follows_the_declared_sources_only(scratch):
    repo, script = scratch
    assert common.source_files(script, repo) == [
        "benchmarks/_common.py",
        "benchmarks/bench.py",
        "pkg/sub/a.py",
    ]
    before = common.source_fingerprint(script, repo)
    (repo / "pkg" / "other.py").write_text("B = 2\n")  # not a dependency
    assert common.source_fingerprint(script, repo) == before
    (repo / "pkg" / "sub" / "a.py").write_text("A = 2\n")
    after = common.source_fingerprint(script, repo)
    assert after["sha256"] != before["sha256"]
    assert [f for f in after["files"] if after["files"][f] != before["files"][f]] == ["pkg/sub/a.py"]
    (repo / "pkg" / "sub" / "__pycache__").mkdir()
    (repo / "pkg" / "sub" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
    assert common.source_fingerprint(script, repo) == after


def test_a_missing_dependency_is_an_error(scratch):
    repo, script = scratch
    script.write_text('DEPENDS = ("pkg/typo",)\n')
    with pytest.raises(FileNotFoundError, match="pkg/typo"):
        common.source_files(script, repo)


def test_staleness_names_the_changed_file_and_the_command(scratch, tmp_path):
    repo, script = scratch
    results = tmp_path / "results"
    results.mkdir()
    entry = {"script": script, "args": ["--x"], "minutes": 1}
    assert "missing" in tables.staleness("bench", entry, results, repo)
    payload = {"benchmark": "bench", "environment": {"git_commit": "abc"}, "results": {}}
    (results / "bench.json").write_text(json.dumps(payload))
    assert "records no source hash" in tables.staleness("bench", entry, results, repo)
    payload["sources"] = common.source_fingerprint(script, repo)
    (results / "bench.json").write_text(json.dumps(payload))
    assert tables.staleness("bench", entry, results, repo) is None
    (repo / "pkg" / "sub" / "a.py").write_text("A = 3\n")
    why = tables.staleness("bench", entry, results, repo)
    assert "pkg/sub/a.py" in why and "python benchmarks/bench.py --x" in why


def test_write_result_records_sources_versions_and_commit(tmp_path, monkeypatch):
    import argparse

    args = argparse.Namespace(out=tmp_path, quick=False, seed=0, threads=1)
    env = common.environment(args)
    assert {"numpy", "torch", "xmtag", "scipy"} <= set(env["versions"])
    script = BENCH / "cost.py"
    path = common.write_result("cost", args, env, {"x": 1}, 0.1, script=script)
    payload = json.loads(path.read_text())
    assert payload["script"] == "benchmarks/cost.py"
    assert payload["sources"] == common.source_fingerprint(script)
    assert "xmtag/coalitions/_evaluate.py" in payload["sources"]["files"]
    assert not any(f.startswith(("xmtag/cli/", "xmtag/report/")) for f in payload["sources"]["files"])
    assert tables.staleness("cost", RESULTS["cost"], tmp_path) is None


def test_a_typed_number_in_a_table_is_found(tmp_path):
    readme = tmp_path / "README.md"
    name = MARKED[0]
    generated = tables.render(MARKED)
    good, _ = tables.update(README_TEXT, generated)
    assert tables.update(good, generated)[1] == []
    body = generated[name]
    digit = next(i for i, c in enumerate(body) if c.isdigit())
    typed = body[:digit] + str((int(body[digit]) + 1) % 10) + body[digit + 1 :]
    bad = good.replace(body, typed, 1)
    readme.write_text(bad)
    assert tables.main(["--check", "--readme", str(readme)]) == 1
    assert tables.main(["--readme", str(readme)]) == 0
    assert readme.read_text() == good
