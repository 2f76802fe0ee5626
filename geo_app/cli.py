"""The command line: `python -m geo_app …` / `geo-app …`. It calls the same core as the web layer."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from . import cli_accounts, cli_export
from .config import PROJECT_ROOT, load_config
from .core import stats
from .core.demo import ensure_store, load_layer_sources
from .core.importing import MB, MODES, ImportRefused, Limits
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
    cli_accounts.add_parsers(commands)

    imp = commands.add_parser(
        "import", help="import a GIS file or spreadsheet into a layer (all or nothing)",
        description="Import GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, CSV (WKT or lon/lat) or Excel into a "
                    "layer. Every row is checked first; the import lands whole in one transaction or not at all.")
    imp.add_argument("file", help="the file to import")
    imp.add_argument("--layer", default="estates", help="target layer (default estates)")
    imp.add_argument("--crs", help="the file's coordinate system when it names none (or to name GCJ-02/BD-09): "
                                   "EPSG:4326, EPSG:4490, EPSG:4491–4554, gcj02, bd09")
    imp.add_argument("--encoding", help="attribute text encoding, e.g. gbk, gb18030, utf-8 (default: .cpg or detected)")
    imp.add_argument("--mapping", help="TOML file mapping source columns to fields ([columns], [values.<field>])")
    imp.add_argument("--mode", choices=MODES, default="insert",
                     help="insert (default), upsert-id (update rows whose id matches) or upsert-name "
                          "(update rows with the same name and street office)")
    imp.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    imp.add_argument("--report", help="also write the full report as JSON to this file")

    cli_export.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pyogrio logs "Created 5,000 records" at INFO for each page a Shapefile export writes: lines
    # through the export's progress bar and noise in a server's log. Its warnings still show.
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
        return COMMANDS[args.command](args, config)
    except GeoAppError as exc:
        print(f"geo-app {args.command}: error: {exc.message}", file=sys.stderr)
        return 2


def run() -> None:
    """The process's entry point (`python -m geo_app`, the `geo-app` script): `main`, then exit
    without the interpreter's teardown. Once the command has returned, its store is closed and its
    files are written; what is left is Python freeing every module and object one by one (pandas,
    pyarrow, GDAL: ~0.2 s after an import, during which the shell still waits), which the operating
    system does at once. An exception still ends the process the usual way, with its traceback, and
    so does every run under a tracer or profiler (coverage, pyinstrument), which write at exit."""
    code = main()
    if sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said on it
            pass
    os._exit(code)


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
        cli_accounts.ensure_first_admin(store)
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
        cli_accounts.ensure_first_admin(store)
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


def _with_store(run):
    """A command that needs an initialised store (the account commands)."""
    def command(args, config) -> int:
        store = _open(config)
        try:
            if not store.exists():
                print(f"{store.description} does not exist yet: run `geo-app init` first", file=sys.stderr)
                return 2
            store.initialise()  # adds the account tables to a store made before they existed
            return run(args, store)
        finally:
            store.close()
    return command


def cmd_import(args, config) -> int:
    """Exit 0 when imported (or a clean dry run), 1 when refused (report printed), 2 on other errors
    (no store, bad configuration)."""
    from pathlib import Path

    from .core.importing import ImportOptions, run_import
    from .progress import PhaseProgress

    path = Path(args.file)
    if not path.is_file():
        print(f"geo-app import: error: no such file: {path}", file=sys.stderr)
        return 2
    options = ImportOptions(
        layer=args.layer, crs=args.crs, encoding=args.encoding, mapping=Path(args.mapping) if args.mapping else None,
        mode=args.mode, dry_run=args.dry_run,
        limits=Limits(max_upload=config.imports.max_unpacked_mb * MB,  # a local file: the unpack limit
                      max_unpacked=config.imports.max_unpacked_mb * MB),
        max_overlap_share=config.imports.max_overlap_share,
        max_repair_area_change=config.imports.max_repair_area_change,
        max_km_outside_district=config.imports.max_km_outside_district)
    store = _open(config)
    progress = PhaseProgress()
    try:
        if not store.exists():
            print(f"{store.description} does not exist yet: run `geo-app init` first", file=sys.stderr)
            return 2
        report = run_import(store, path, options, progress=progress)
    except ImportRefused as exc:
        progress.close()
        print(f"geo-app import: refused, nothing written: {exc.message}", file=sys.stderr)
        if args.report:
            Path(args.report).write_text(json.dumps({"file": str(path), "ok": False, "refused": exc.message},
                                                    ensure_ascii=False, indent=2), encoding="utf-8")
        return 1
    finally:
        progress.close()
        store.close()
    if args.report:
        Path(args.report).write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for line in report.problem_lines(limit=50):
        print(line, file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


def cmd_export(args, config) -> int:
    store = _open(config)
    try:
        if not store.exists():
            print(f"{store.description} does not exist yet: run `geo-app init` first", file=sys.stderr)
            return 2
        return cli_export.run_export(store, args)
    finally:
        store.close()


COMMANDS = {"assets": cmd_assets, "init": cmd_init, "serve": cmd_serve, "stats": cmd_stats, "import": cmd_import,
            "export": cmd_export,
            "users": _with_store(cli_accounts.run_users), "tokens": _with_store(cli_accounts.run_tokens)}
