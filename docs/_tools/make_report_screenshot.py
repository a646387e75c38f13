"""Regenerate the interactive report's screenshot for the docs (``docs/img/report.png``).

Explains the bundled demo song (musicnn-msd, 8 segments, as ``xmtag demo``), writes the report,
opens it in headless Chromium (the browser tests' launcher, ``tests/browser/chromium.py``: the
system ``chromium``, network cut off), mutes the saxophone, moves the playhead into the fourth
segment and saves a screenshot of the page at 1280 px, reduced to a small palette PNG.

Usage (about 30 s on 2 CPU cores, from the repository root; needs ``chromium`` and Playwright)::

    python docs/_tools/make_report_screenshot.py
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "img" / "report.png"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's xmtag and the browser launcher


def main() -> int:
    from browser.chromium import browser, missing, open_page
    from PIL import Image

    import xmtag
    from xmtag.report import write_html

    reason = missing()
    if reason:
        print(f"Cannot take the screenshot: {reason}.", file=sys.stderr)
        return 1
    expl = xmtag.explain(xmtag.load_demo(), tagger="musicnn-msd", segments=8, progress=False)
    with tempfile.TemporaryDirectory() as tmp, browser(width=1280, height=900) as ctx:
        path = write_html(expl, Path(tmp) / "report.html", title="Why these tags? 'Stem Cell Blues'")
        page, log = open_page(ctx, path.as_uri())
        page.click(".xm-strip[data-stem='4'] .xm-mute")
        box = page.query_selector(".xm-wave-wrap").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.42, box["y"] + box["height"] / 2)
        page.wait_for_timeout(200)
        png = page.screenshot(full_page=False)
        if log.problems():
            print("\n".join(log.problems()), file=sys.stderr)
            return 1
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.LANCZOS)
    img.quantize(colors=200, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    print(f"Wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
