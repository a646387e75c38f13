"""Start Debian's Chromium headless through Playwright, for the report's browser tests and the docs
screenshot (``docs/_tools/make_report_screenshot.py``).

Playwright drives the system browser (``/usr/bin/chromium``, or ``$XMTAG_CHROMIUM``): its own
browser download is never used. Every request that is not a ``file:`` URL is aborted and recorded,
so a page that reaches for the network fails its test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def chromium_path() -> str | None:
    """The Chromium executable, or None (also when ``XMTAG_CHROMIUM=none``)."""
    env = os.environ.get("XMTAG_CHROMIUM")
    if env == "none":
        return None
    for cand in (env, "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "no Chromium found (apt-get install chromium, or set XMTAG_CHROMIUM to its path)"
    return None


@dataclass
class Log:
    """What a page said and tried: console messages, page errors and blocked requests."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console.{t}: {m}" for t, m in self.console if t in ("error", "warning", "assert")]
            + [f"page error: {e}" for e in self.errors]
            + [f"network request: {u}" for u in self.blocked]
        )


@contextlib.contextmanager
def browser(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A fresh headless Chromium context (its own profile folder), offline except for file: URLs."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="xmtag-chromium-") as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=chromium_path(),
            args=ARGS,
            headless=True,
            viewport={"width": width, "height": height},
            offline=False,
        )
        try:
            yield ctx
        finally:
            ctx.close()


def open_page(ctx: Any, url: str, log: Log | None = None, timeout_ms: int = 20_000) -> tuple[Any, Log]:
    """Open ``url`` in a new tab with the network cut off; wait until the desk is mounted."""
    log = log or Log()
    page = ctx.new_page()
    page.on("console", lambda m: log.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: log.errors.append(str(e)))

    def route(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            log.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    try:
        page.wait_for_selector(".xm[data-ready=true]", state="attached", timeout=timeout_ms)
    except Exception as exc:  # a timeout: say what the page said
        raise AssertionError(f"the report did not start: {log.problems() or exc}") from exc
    return page, log
