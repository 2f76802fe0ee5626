"""The command line: `python -m geo_app …` / `geo-app …`. It calls the same core as the web layer."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from . import cli_export
from .config import PROJECT_ROOT, load_config
from .core import stats
from .core.demo import ensure_store, load_layer_sources
from .errors import GeoAppError
from .frontend import ensure_assets
from .layers import load_layers
from .storage import open_store

log = logging.getLogger("geo_app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geo-app",
        description="geo_app: web GIS for the renovation of old residential estates (老旧小区改造).")
    parser.add_argument("--config", help="path to config.toml (default: $GEO_APP_CONFIG or ./config.toml)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="build the store from layers/ (demo data)",
                               description="Create the store's schema and load every layer's source file.")
    init.add_argument("--force", action="store_true", help="drop an existing store first")

    serve = commands.add_parser("serve", help="run the web service (creates the store when absent)")
    serve.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default from config: 5000)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")

    commands.add_parser("assets", help="install the front-end libraries from package-lock.json (npm ci)",
                        description="Install the locked npm packages the pages load into node_modules/ "
                                    "(a no-op when they are up to date). init and serve do this too.")

    st = commands.add_parser("stats", help="per-batch and per-street-office table of estates",
                             description="The letter's figures, computed from the store.")
    st.add_argument("--group-by", choices=sorted(stats.GROUPINGS), action="append",
                    help="grouping (repeatable; default: batch and street_office)")
    st.add_argument("--json", action="store_true", help="print JSON instead of a table")
    st.add_argument("--lang", choices=("zh", "en"), default="zh", help="labels' language")

    cli_export.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        return COMMANDS[args.command](args, config)
    except GeoAppError as exc:
        print(f"geo-app {args.command}: error: {exc.message}", file=sys.stderr)
        return 2


def _open(config):
    return open_store(config.store_url, load_layers(config.layers_dir))


def cmd_assets(args, config) -> int:
    print("front-end libraries installed" if ensure_assets(PROJECT_ROOT) else "front-end libraries up to date")
    return 0


def cmd_init(args, config) -> int:
    ensure_assets(PROJECT_ROOT)
    store = _open(config)
    try:
        if args.force:
            store.drop()
        store.initialise()
        counts = load_layer_sources(store)
    finally:
        store.close()
    print(f"{store.description}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    return 0


def cmd_serve(args, config) -> int:
    from waitress import serve

    from .app import create_app

    ensure_assets(PROJECT_ROOT)  # a stat and a hash when up to date
    store = _open(config)
    try:
        if ensure_store(store):
            log.info("created %s from %s", store.description, config.layers_dir)
    finally:
        store.close()
    host = args.host or config.server.host
    port = args.port or config.server.port
    app = create_app(config)
    log.info("serving %s on http://%s:%d/", app.extensions["geo_app.store"].description, host, port)
    serve(app, host=host, port=port, threads=args.threads, ident="geo_app")
    return 0


def cmd_stats(args, config) -> int:
    store = _open(config)
    try:
        if not store.exists():
            print(f"{store.description} does not exist yet: run `geo-app init` first", file=sys.stderr)
            return 2
        tables = [stats.estate_stats(store, g, locale=args.lang)
                  for g in (args.group_by or ["batch", "street_office"])]
    finally:
        store.close()
    if args.json:
        print(json.dumps(tables if len(tables) > 1 else tables[0], ensure_ascii=False, indent=2))
    else:
        for table in tables:
            print(f"\n[{table['group_by']}]")
            print(stats.format_table(table))
    return 0


def cmd_export(args, config) -> int:
    store = _open(config)
    try:
        if not store.exists():
            print(f"{store.description} does not exist yet: run `geo-app init` first", file=sys.stderr)
            return 2
        return cli_export.run_export(store, args)
    finally:
        store.close()


COMMANDS = {"assets": cmd_assets, "init": cmd_init, "serve": cmd_serve, "stats": cmd_stats, "export": cmd_export}
