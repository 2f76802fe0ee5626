"""The admin import page: upload, preview (first rows and a small map, nothing written), confirm,
progress, report. Off unless `imports.web_enabled`; the CLI is the way in until accounts exist.

Each upload gets a private folder `<data_dir>/uploads/<token>/` holding the file under a name we
make (`upload.<suffix>`), the chosen options, the progress and the report. The import itself runs
the same core as `geo-app import` in a background thread of this process; progress goes to a file,
so any worker can answer the page's polling. The uploaded file is deleted when the import ends, and
folders older than a day are swept on each new upload.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import secrets
import shutil
import threading
import time
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from ..core.importing import MODES, ImportOptions, ImportRefused, Limits, run_import
from ..core.importing.reading import ARCHIVE_SUFFIXES, GIS_SUFFIXES, TABLE_SUFFIXES
from ..errors import InvalidParameter, NotFound
from . import get_config, get_store
from .auth import current_actor, require_role

log = logging.getLogger(__name__)
bp = Blueprint("imports", __name__)

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_SUFFIXES = (ARCHIVE_SUFFIXES | GIS_SUFFIXES | TABLE_SUFFIXES) - {".shp"}  # a lone .shp lacks its .dbf and .prj
CRS_CHOICES = ("", "EPSG:4326", "EPSG:4490", "EPSG:4527", "EPSG:4548", "EPSG:4498", "EPSG:4509", "gcj02", "bd09")
PREVIEW_ROWS = 20
SWEEP_AFTER_S = 24 * 3600


@bp.before_request
def _only_when_enabled():
    # Every route of this blueprint writes or reveals an upload: admins only (each view is also
    # marked require_role("admin") so the role-matrix test and the guard see it), and only while the
    # switch is on (an installation may keep imports to the CLI).
    if not get_config().imports.web_enabled:
        raise NotFound("the import page is switched off (imports.web_enabled); use `geo-app import`")


def _uploads() -> Path:
    return get_config().data_dir / "uploads"


def _folder(token: str) -> Path:
    if not _TOKEN.fullmatch(token):
        abort(404)
    folder = _uploads() / token
    if not folder.is_dir():
        raise NotFound("no such upload (it may have expired); upload the file again")
    return folder


def _limits() -> Limits:
    imports = get_config().imports
    return Limits(max_upload=imports.max_upload_mb * 1024 * 1024, max_unpacked=imports.max_unpacked_mb * 1024 * 1024)


def _options(chosen: dict, folder: Path, dry_run: bool) -> ImportOptions:
    imports = get_config().imports
    return ImportOptions(layer=chosen["layer"], crs=chosen["crs"] or None, encoding=chosen["encoding"] or None,
                         mode=chosen["mode"], dry_run=dry_run, limits=_limits(), temp_dir=folder / "work",
                         max_overlap_share=imports.max_overlap_share,
                         max_repair_area_change=imports.max_repair_area_change,
                         preview_rows=PREVIEW_ROWS if dry_run else 0)


def _form_choices() -> dict:
    store = get_store()
    return {"layers": [(name, layer) for name, layer in store.layers.items()], "crs_choices": CRS_CHOICES,
            "modes": MODES}


@bp.get("/")
@require_role("admin")
def form():
    """The upload form."""
    return render_template("import.html", chosen={}, report=None, refused=None, **_form_choices())


def _chosen_from(form) -> dict:
    store = get_store()
    chosen = {key: (form.get(key) or "").strip() for key in ("layer", "crs", "encoding", "mode")}
    if chosen["layer"] not in store.layers:
        raise InvalidParameter(f"unknown layer {chosen['layer']!r}", parameter="layer")
    if chosen["mode"] not in MODES:
        raise InvalidParameter(f"unknown mode {chosen['mode']!r}", parameter="mode")
    if len(chosen["crs"]) > 40 or len(chosen["encoding"]) > 40:
        raise InvalidParameter("crs and encoding are short names, e.g. EPSG:4527, gbk", parameter="crs")
    return chosen


@bp.post("/")
@require_role("admin")
def upload():
    """Save the upload under a generated name, check it as a dry run, show the preview."""
    chosen = _chosen_from(request.form)
    file = request.files.get("file")
    if file is None or not file.filename:
        raise InvalidParameter(gettext("Choose a file to import."), parameter="file")
    suffix = Path(file.filename).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InvalidParameter(f"unsupported file type '{suffix}'", parameter="file")
    _sweep()
    token = secrets.token_hex(16)
    folder = _uploads() / token
    folder.mkdir(parents=True, mode=0o700)
    upload_path = folder / f"upload{suffix}"
    file.save(upload_path)
    (folder / "meta.json").write_text(json.dumps({"file": file.filename, **chosen}, ensure_ascii=False),
                                      encoding="utf-8")
    report, refused = _dry_run(upload_path, file.filename, chosen, folder)
    return render_template("import.html", chosen=chosen, report=report, refused=refused, token=token,
                           filename=file.filename, **_form_choices())


def _dry_run(path: Path, filename: str, chosen: dict, folder: Path):
    try:
        report = run_import(get_store(), path, _options(chosen, folder, dry_run=True), label=filename)
    except ImportRefused as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return None, exc.message
    return report, None


@bp.post("/<token>/confirm")
@require_role("admin")
def confirm(token: str):
    """Run the real import in the background; the status page shows its progress and report."""
    folder = _folder(token)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    uploads = [p for p in folder.iterdir() if p.name.startswith("upload")]
    if not uploads or (folder / "progress.json").exists():
        return redirect(url_for("imports.status", token=token))
    progress = FileProgress(folder / "progress.json")
    progress.phase("queued", None)
    app = current_app._get_current_object()
    options = dataclasses.replace(_options(meta, folder, dry_run=False), actor=current_actor())  # for the audit log
    thread = threading.Thread(target=_run_in_background, args=(app, uploads[0], meta["file"], options, folder, progress),
                              name=f"import-{token[:8]}", daemon=True)
    thread.start()
    return redirect(url_for("imports.status", token=token))


def _run_in_background(app, path: Path, filename: str, options: ImportOptions, folder: Path, progress) -> None:
    with app.app_context():
        try:
            report = run_import(app.extensions["geo_app.store"], path, options, label=filename, progress=progress)
            result = report.to_dict()
        except ImportRefused as exc:
            result = {"ok": False, "refused_message": exc.message, "file": filename}
        except Exception as exc:  # the page must learn the import ended, whatever ended it
            log.exception("import of %s failed", filename)
            result = {"ok": False, "refused_message": f"import failed: {type(exc).__name__}", "file": filename}
        finally:
            path.unlink(missing_ok=True)
        (folder / "report.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        progress.finish()


@bp.get("/<token>")
@require_role("admin")
def status(token: str):
    """Progress while the import runs, then its report."""
    folder = _folder(token)
    report_path = folder / "report.json"
    result = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else None
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return render_template("import_status.html", token=token, result=result, filename=meta["file"])


@bp.get("/<token>/progress")
@require_role("admin")
def progress(token: str):
    """The import's progress as JSON: phase, done, total, elapsed seconds, finished."""
    path = _folder(token) / "progress.json"
    if not path.exists():
        return jsonify({"phase": "waiting", "done": 0, "total": None, "finished": False})
    return jsonify(json.loads(path.read_text(encoding="utf-8")))


class FileProgress:
    """The core's Progress, written to a small JSON file (atomically, at most ~4 times a second)."""

    def __init__(self, path: Path):
        self.path = path
        self.state = {"phase": "", "done": 0, "total": None, "started": time.time(), "finished": False}
        self._last = 0.0

    def phase(self, name: str, total: int | None) -> None:
        self.state.update(phase=name, total=total, done=0)
        self._write(force=True)

    def advance(self, done: int) -> None:
        self.state["done"] = done
        self._write()

    def finish(self) -> None:
        self.state["finished"] = True
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        self.state["elapsed"] = round(now - self.state["started"], 1)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state), encoding="utf-8")
        tmp.replace(self.path)


def _sweep() -> None:
    """Remove upload folders nobody confirmed or looked at for a day."""
    root = _uploads()
    if not root.is_dir():
        return
    cutoff = time.time() - SWEEP_AFTER_S
    for folder in root.iterdir():
        if _TOKEN.fullmatch(folder.name) and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
