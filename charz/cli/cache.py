"""``charz cache info`` / ``charz cache clear``: the content-addressed cache of simulation results."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Add ``cache`` (``info``, ``clear``) to the sub-command parsers *sub*."""
    p = sub.add_parser("cache", help="result cache: info or clear",
                       description="The content-addressed cache of simulation results (CHARZ_CACHE_DIR, default ~/.cache/charz).")
    cs = p.add_subparsers(dest="cache_cmd", required=True)
    cs.add_parser("info", help="location, entries, size")
    cs.add_parser("clear", help="delete every cached result (only files charz wrote)")
    p.set_defaults(func=cmd_cache)


def cmd_cache(args) -> int:
    """``charz cache info`` (location, entries, size) or ``charz cache clear`` (deletes charz's own files only
    and says what it deleted). Returns 0."""
    from ..sim.cache import Cache

    c = Cache()
    if args.cache_cmd == "info":
        i = c.info()
        print(f"cache {i['path']}: {i['entries']} entries, {i['bytes'] / 1e6:.2f} MB, "
              f"{i['failed_netlists']} saved netlists of failed runs")
    else:
        i = c.clear()
        print(f"cleared {i['entries']} entries ({i['bytes'] / 1e6:.2f} MB), {i['parts']} unfinished writes and "
              f"{i['failed_netlists']} saved netlists of failed runs from {i['path']} (other files there are left alone)")
    return 0
