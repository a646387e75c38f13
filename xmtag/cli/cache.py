"""``xmtag cache info|clear|prune``: inspect and tidy the on-disk cache (:mod:`xmtag.cache`)."""

from __future__ import annotations

import argparse
import json

from .. import cache as _cache


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cache",
        help="show, clear or prune the cache of stems, weights and tagger outputs",
        description=(
            "The cache lives in $XMTAG_CACHE (default: the user cache folder) and is capped at "
            "$XMTAG_CACHE_MAX (default 10GB; least recently used entries are evicted)."
        ),
        epilog=(
            "examples:\n"
            "  xmtag cache info\n"
            "  xmtag cache prune --max 2GB --verify\n"
            "  xmtag cache clear --namespace stems"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=["info", "clear", "prune"], help="what to do")
    p.add_argument("--namespace", help="clear: only this kind of entry (e.g. stems, taggers)")
    p.add_argument("--max", help="prune: size to prune to, e.g. 2GB (default: $XMTAG_CACHE_MAX or 10GB)")
    p.add_argument("--verify", action="store_true", help="prune: also delete entries failing their checksum")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "info":
        i = _cache.info()
        if args.json:
            doc = {
                "root": str(i.root),
                "entries": i.entries,
                "size_bytes": i.size_bytes,
                "max_bytes": i.max_bytes,
                "namespaces": {k: {"entries": n, "bytes": b} for k, (n, b) in i.namespaces.items()},
                "temp_files": i.temp_files,
            }
            print(json.dumps(doc, indent=2))
        else:
            print(i)
    elif args.action == "clear":
        n = _cache.clear(args.namespace)
        what = f" of namespace {args.namespace!r}" if args.namespace else ""
        print(
            json.dumps({"removed": n})
            if args.json
            else f"removed {n} cache entries{what} from {_cache.cache_dir()}"
        )
    else:
        if args.max is not None:
            _cache.parse_size(args.max, "--max")  # the error names the flag
        r = _cache.prune(args.max, verify=args.verify)
        if args.json:
            print(json.dumps(r))
        else:
            print(
                f"evicted {r['evicted']} entries ({r['freed_bytes']} bytes), removed {r['temp_files']} stale "
                f"temporary files and {r['corrupt']} corrupt entries from {_cache.cache_dir()}"
            )
    return 0
