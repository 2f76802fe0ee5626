"""Take the README's screenshots (planner map, dashboard) with Debian's headless Chromium.

    python docs/screenshot.py [--out docs/screenshot.png] [--dashboard docs/dashboard.png] [--tiles URL]

Starts the app on a free port of 127.0.0.1 over a temporary GeoPackage built from layers/,
opens the pages and saves PNGs. Without --tiles the map has no basemap (no internet needed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo_app import create_app  # noqa: E402
from geo_app.config import load_config  # noqa: E402
from geo_app.core.demo import ensure_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "screenshot.png"))
    parser.add_argument("--dashboard", default=str(Path(__file__).parent / "dashboard.png"))
    parser.add_argument("--tiles", default="", help="tile URL template for a basemap")
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(load_config(overrides={"data_dir": data_dir, "map.tile_url": args.tiles,
                                                "map.amap_url": "", "map.amap_satellite_url": ""}))
        ensure_store(app.extensions["geo_app.store"])
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1366, "height": 820})
            base = f"http://127.0.0.1:{httpd.server_port}"
            page.goto(f"{base}/?lang={args.lang}")
            page.wait_for_selector('#map-ready[data-ready="1"]', state="attached")
            page.wait_for_timeout(800)
            page.screenshot(path=args.out)
            page.goto(f"{base}/dashboard?lang={args.lang}", wait_until="networkidle")
            page.wait_for_timeout(800)
            page.screenshot(path=args.dashboard, full_page=True)
            browser.close()
        httpd.shutdown()
    print(f"wrote {args.out} and {args.dashboard}")


if __name__ == "__main__":
    main()
