"""MkDocs hook: build the Benchmarks page from ``benchmarks/README.md`` and ``benchmarks/results/``.

The page ``docs/benchmarks.md`` holds two markers that are replaced at build time, so the site
always shows what the benchmark scripts last wrote, without hand copying:

``<!-- benchmarks:readme -->``
    ``benchmarks/README.md`` without its title. Relative links into ``results/`` point at the
    copied result files; other relative links (scripts, data folders) become plain code text,
    since the site holds no source files.
``<!-- benchmarks:results -->``
    One section per result in ``benchmarks/results/``: every ``<name>.json`` (the ``--quick``
    file ``<name>_quick.json`` only when no full run exists) as its environment line and its
    tables (each list of flat records in ``results``; long ones folded), followed by the figures
    ``<name>*.png`` / ``*.svg`` of the same run.

Figures are added to the site as ``benchmarks/results/<file>``; ``mkdocs serve`` watches the
folder.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.benchmarks")

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
FIGURE_SUFFIXES = (".png", ".svg")
SITE_DIR = "benchmarks/results"  # where result figures land in the site
LONG_TABLE = 12  # tables with more rows are shown folded
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<target>[^)\s]+)\)")


def on_config(config: Any) -> Any:
    for path in (BENCH / "README.md", RESULTS):
        if path.exists():
            config.watch.append(str(path))
    return config


def _figures() -> list[Path]:
    if not RESULTS.is_dir():
        return []
    return sorted(p for p in RESULTS.iterdir() if p.suffix in FIGURE_SUFFIXES and p.is_file())


def on_files(files: Files, config: Any) -> Files:
    for fig in _figures():
        files.append(File.generated(config, f"{SITE_DIR}/{fig.name}", abs_src_path=str(fig)))
    return files


def _rewrite_readme(text: str) -> str:
    text = re.sub(r"\A\s*#\s[^\n]*\n", "", text)  # drop the README's own title

    def image(m: re.Match) -> str:
        target = m.group("target")
        if target.startswith("results/") and (BENCH / target).is_file():
            return f"![{m.group('alt')}](benchmarks/{target})"
        return m.group(0) if "://" in target else f"`{target}`"

    def link(m: re.Match) -> str:
        target = m.group("target")
        if "://" in target or target.startswith("#") or target.startswith("mailto:"):
            return m.group(0)
        if target.startswith("results/") and (BENCH / target).is_file() and target.endswith(FIGURE_SUFFIXES):
            return f"[{m.group('text')}](benchmarks/{target})"
        return f"{m.group('text')} (`benchmarks/{target}`)"

    return _LINK.sub(link, _IMAGE.sub(image, text)).strip() + "\n"


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        return "`" + json.dumps(v)[:60] + "`"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _is_record_list(v: Any) -> bool:
    return (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(r, dict) for r in v)
        and all(not isinstance(x, (dict, list)) for r in v for x in r.values())
    )


def _table(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _tables(results: Any, prefix: str = "") -> list[tuple[str, list[dict]]]:
    """Every list of flat records inside ``results`` (depth-first), with its key path."""
    found: list[tuple[str, list[dict]]] = []
    if _is_record_list(results):
        found.append((prefix, results))
    elif isinstance(results, dict):
        for k, v in results.items():
            found += _tables(v, f"{prefix}.{k}" if prefix else str(k))
    return found


def _scalars(results: Any) -> dict[str, Any]:
    if not isinstance(results, dict):
        return {}
    return {k: v for k, v in results.items() if isinstance(v, (int, float, str, bool)) or v is None}


def _result_files() -> list[Path]:
    if not RESULTS.is_dir():
        return []
    full = {p.stem for p in RESULTS.glob("*.json") if not p.stem.endswith("_quick")}
    out = []
    for p in sorted(RESULTS.glob("*.json")):
        if p.stem.endswith("_quick") and p.stem[: -len("_quick")] in full:
            continue
        out.append(p)
    return out


def _figures_of(stem: str) -> list[Path]:
    quick = stem.endswith("_quick")
    base = stem[: -len("_quick")] if quick else stem
    figs = []
    for fig in _figures():
        if not fig.stem.startswith(base) or fig.stem.endswith("_quick") != quick:
            continue
        # a longer benchmark name sharing this prefix owns its own figures
        rest = fig.stem[len(base) :]
        if rest and not rest.startswith(("_", "-")):
            continue
        if any(
            fig.stem.startswith(other.stem.removesuffix("_quick"))
            and len(other.stem.removesuffix("_quick")) > len(base)
            for other in _result_files()
        ):
            continue
        figs.append(fig)
    return figs


def render_results() -> str:
    files = _result_files()
    if not files:
        return "*No benchmark results have been written yet: run the scripts above.*\n"
    parts: list[str] = []
    for path in files:
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("benchmarks hook: cannot read %s: %s", path, exc)
            continue
        name = payload.get("benchmark", path.stem)
        env = payload.get("environment", {})
        title = f"### `{name}`" + (" (quick run)" if env.get("quick") else "")
        parts.append(title)
        facts = [
            f"written {env['date_utc']}" if env.get("date_utc") else None,
            f"commit `{env['git_commit']}`" if env.get("git_commit") else None,
            f"{env.get('cpu_count')} CPUs ({env.get('cpu', 'unknown CPU')})"
            if env.get("cpu_count")
            else None,
            f"torch threads {env['torch_threads']}" if env.get("torch_threads") is not None else None,
            f"load {env['load_average_1min']}" if env.get("load_average_1min") is not None else None,
            f"wall {payload['wall_s']} s" if payload.get("wall_s") is not None else None,
        ]
        line = "; ".join(f for f in facts if f)
        if env.get("command"):
            line += f". Command: `python benchmarks/{env['command']}`"
        parts.append(f"*{line}*" if line else "")
        results = payload.get("results", {})
        scalars = _scalars(results)
        if scalars:
            parts.append(", ".join(f"{k} = {_fmt(v)}" for k, v in scalars.items()))
        for key, rows in _tables(results):
            label = key if key and key != "rows" else "table"
            if len(rows) > LONG_TABLE:  # long per-song tables fold away (pymdownx.details)
                body = _table(rows).replace("\n", "\n    ")
                parts.append(f'??? info "{label} ({len(rows)} rows)"\n\n    {body}')
            else:
                if label != "table":
                    parts.append(f"**{label}**")
                parts.append(_table(rows))
        for fig in _figures_of(path.stem):
            parts.append(f"![{fig.stem}]({SITE_DIR}/{fig.name})")
    return "\n\n".join(parts) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if "<!-- benchmarks:" not in markdown:
        return markdown
    if "<!-- benchmarks:readme -->" in markdown:
        readme = BENCH / "README.md"
        text = (
            _rewrite_readme(readme.read_text()) if readme.is_file() else "*benchmarks/README.md is missing.*"
        )
        markdown = markdown.replace("<!-- benchmarks:readme -->", text)
    if "<!-- benchmarks:results -->" in markdown:
        markdown = markdown.replace("<!-- benchmarks:results -->", render_results())
    return markdown
