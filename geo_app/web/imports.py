"""The admin import page: upload, preview (first rows and a small map, nothing written), confirm,
progress, report. Off unless `imports.web_enabled`; the CLI is the way in until accounts exist.

Each upload gets a private folder `<data_dir>/uploads/<token>/` holding the file under a name we
make (`upload.<suffix>`), an optional mapping file (`mapping.toml`), the chosen options, the
progress and the report. The import itself runs the same core as `geo-app import` in a background
thread of this process; progress goes to a file, so any worker can answer the page's polling. The
folder goes as soon as a preview is refused or cancelled, the uploaded files when the import ends;
folders of previews nobody confirmed are swept after a day, on each new upload.
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
from flask_babel import gettext, lazy_gettext
from werkzeug.exceptions import RequestEntityTooLarge

# The pipeline (pyogrio, pyarrow, pandas) loads with the first upload, not with the server:
# `importing.run_import` and `importing.ImportOptions` resolve lazily (see core/importing/__init__).
from ..core import importing
from ..core.importing import MB, MODES, ImportRefused, Limits
from ..core.importing.crs import GK_EPSG, gauss_kruger
from ..core.importing.formats import ARCHIVE_SUFFIXES, GIS_SUFFIXES, TABLE_SUFFIXES
from ..errors import InvalidParameter, NotFound
from . import get_config, get_store
from .i18n import current_locale
from .import_messages import localised
from .auth import current_actor, require_role

log = logging.getLogger(__name__)
bp = Blueprint("imports", __name__)

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_SUFFIXES = (ARCHIVE_SUFFIXES | GIS_SUFFIXES | TABLE_SUFFIXES) - {".shp"}  # a lone .shp lacks its .dbf and .prj
# Shandong lies in 3° zones 38–41 and 6° zones 20–21 (Xuecheng, 117.3°E: 3° zone 39, 6° zone 20);
# its files are offered first, the rest of China's zones below them.
SHANDONG_ZONES = {3: range(38, 42), 6: range(20, 22)}
MAPPING_NAME = "mapping.toml"
MAPPING_MAX_KB = 256  # a mapping names columns and spellings: a few KB even for a wide table
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
    return Limits(max_upload=imports.max_upload_mb * MB, max_unpacked=imports.max_unpacked_mb * MB)


def _options(chosen: dict, folder: Path, dry_run: bool) -> "importing.ImportOptions":
    imports = get_config().imports
    mapping = folder / MAPPING_NAME if chosen.get("mapping") else None
    return importing.ImportOptions(layer=chosen["layer"], crs=chosen["crs"] or None, encoding=chosen["encoding"] or None,
                         mapping=mapping, mode=chosen["mode"], dry_run=dry_run, limits=_limits(),
                         temp_dir=folder / "work",
                         max_overlap_share=imports.max_overlap_share,
                         max_repair_area_change=imports.max_repair_area_change,
                         max_km_outside_district=imports.max_km_outside_district,
                         preview_rows=PREVIEW_ROWS if dry_run else 0)


def _form_choices() -> dict:
    store = get_store()
    return {"layers": [(name, layer) for name, layer in store.layers.items()], "crs_groups": crs_groups(),
            "modes": MODES, "mapping_max_kb": MAPPING_MAX_KB}


def crs_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The coordinate systems one may declare, as (group label, [(value, label)]) for <optgroup>s:
    every code `core.importing.crs.parse_declared` accepts, Shandong's zones first."""
    zones = [gauss_kruger(epsg) for epsg in GK_EPSG]
    shandong = sorted((z for z in zones if z.zone in SHANDONG_ZONES[z.width]),
                      key=lambda z: (z.width, z.zone, not z.prefixed))
    groups = [(gettext("Shandong (3° zones 38–41, 6° zones 20–21)"), [_gk_option(z) for z in shandong]),
              (gettext("Geographic and web maps"), [
                  ("EPSG:4326", gettext("WGS 84 (GPS, GeoJSON, KML) — EPSG:4326")),
                  ("EPSG:4490", gettext("CGCS2000 geographic — EPSG:4490")),
                  ("gcj02", gettext("GCJ-02 (Amap, Tencent)")), ("bd09", gettext("BD-09 (Baidu)"))])]
    for width in (3, 6):
        for prefixed in (True, False):
            members = [z for z in zones if z.width == width and z.prefixed == prefixed]
            span = {"width": width, "first": members[0].epsg, "last": members[-1].epsg}
            label = (gettext("CGCS2000 %(width)d° Gauss-Kruger, easting with zone prefix (EPSG:%(first)d–%(last)d)",
                             **span) if prefixed else
                     gettext("CGCS2000 %(width)d° Gauss-Kruger, easting without zone prefix "
                             "(EPSG:%(first)d–%(last)d)", **span))
            groups.append((label, [_gk_option(z) for z in members]))
    return groups


def _gk_option(zone) -> tuple[str, str]:
    # The zone number and central meridian are what a surveyor's file or .prj names; both forms say both.
    values = {"width": zone.width, "zone": zone.zone, "cm": zone.central_meridian, "epsg": zone.epsg}
    label = (gettext("CGCS2000 / %(width)d° GK zone %(zone)d (CM %(cm)d°E), with zone prefix — EPSG:%(epsg)d",
                     **values) if zone.prefixed else
             gettext("CGCS2000 / %(width)d° GK zone %(zone)d (CM %(cm)d°E), without zone prefix — EPSG:%(epsg)d",
                     **values))
    return f"EPSG:{zone.epsg}", label


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
    """Save the upload (and mapping file) under generated names, check it as a dry run, show the
    preview. A refused preview keeps nothing: there is nothing to confirm."""
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
    try:
        report, refused = _preview(folder, file, request.files.get("mapping"), chosen)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if report is None or not report.ok:
        shutil.rmtree(folder, ignore_errors=True)
        token = None
    return render_template("import.html", chosen=chosen, report=report, refused=refused, token=token,
                           filename=file.filename, **_form_choices())


def _preview(folder: Path, file, mapping, chosen: dict):
    """(report, None) for a file the core could check, (None, why) for one it refuses outright."""
    try:
        chosen["mapping"] = _save_mapping(mapping, folder / MAPPING_NAME)
        upload_path = folder / f"upload{Path(file.filename).suffix.lower()}"
        file.save(upload_path)
        (folder / "meta.json").write_text(json.dumps({"file": file.filename, **chosen}, ensure_ascii=False),
                                          encoding="utf-8")
        return importing.run_import(get_store(), upload_path, _options(chosen, folder, dry_run=True), label=file.filename), None
    except ImportRefused as exc:
        return None, _public_message(exc.message, folder, chosen)


def _save_mapping(mapping, target: Path) -> str:
    """The mapping file's own name once saved as `target`, or "" when none was sent."""
    if mapping is None or not mapping.filename:
        return ""
    data = mapping.stream.read(MAPPING_MAX_KB * 1024 + 1)
    if len(data) > MAPPING_MAX_KB * 1024:
        raise ImportRefused(gettext("%(name)s: a mapping file may hold at most %(kb)d KB.",
                                    name=mapping.filename, kb=MAPPING_MAX_KB))
    target.write_bytes(data)
    return mapping.filename


def _public_message(message: str, folder: Path, chosen: dict) -> str:
    # The core names a mapping file by its path, here one inside the private folder: say its name.
    return message.replace(str(folder / MAPPING_NAME), chosen.get("mapping") or MAPPING_NAME)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    """The form again, saying the configured limit (in MB as configured) and which file passed it."""
    limit = get_config().imports.max_upload_mb
    name = _name_of_refused_file()
    if name:
        message = gettext("%(name)s is too large to import here: the import page accepts files of at most "
                          "%(mb)d MB (imports.max_upload_mb).", name=name, mb=limit)
    else:
        message = gettext("The file is too large to import here: the import page accepts files of at most "
                          "%(mb)d MB (imports.max_upload_mb).", mb=limit)
    return render_template("import.html", chosen={}, report=None, refused=message, **_form_choices()), 413


def _name_of_refused_file() -> str | None:
    """The uploaded file's name, from the head of a body refused for its length before it was read.

    The form sends its CSRF token and then the file, so the file's part header is within the first
    few kilobytes; nothing more is read. A body refused while being parsed (no length, or too many
    parts) has its head consumed already and its rest may never come: no name then.
    """
    length = request.content_length
    if request.mimetype != "multipart/form-data" or not length or length <= (request.max_content_length or 0):
        return None
    head = request.environ["wsgi.input"].read(min(length, 16 * 1024))
    match = re.search(rb'name="file"; filename="([^"\r\n]+)"', head)
    return Path(match.group(1).decode("utf-8", "replace")).name if match else None


@bp.post("/<token>/confirm")
@require_role("admin")
def confirm(token: str):
    """Run the real import in the background; the status page shows its progress and report. The
    preview's Cancel button sends the same form (`decision=cancel`): then the folder goes at once."""
    folder = _folder(token)
    if request.form.get("decision") == "cancel":
        return _cancel(token, folder)
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


def _cancel(token: str, folder: Path):
    if (folder / "progress.json").exists():  # already importing: the import cleans up after itself
        return redirect(url_for("imports.status", token=token))
    shutil.rmtree(folder, ignore_errors=True)
    return redirect(url_for("imports.form"))


def _run_in_background(app, path: Path, filename: str, options: "importing.ImportOptions", folder: Path,
                       progress) -> None:
    with app.app_context():
        try:
            report = importing.run_import(app.extensions["geo_app.store"], path, options, label=filename, progress=progress)
            result = report.to_dict()
        except ImportRefused as exc:
            result = {"ok": False, "refused_message": _public_message(exc.message, folder, {}), "file": filename}
        except Exception as exc:  # the page must learn the import ended, whatever ended it
            log.exception("import of %s failed", filename)
            result = {"ok": False, "refused_message": f"import failed: {type(exc).__name__}", "file": filename}
        finally:
            path.unlink(missing_ok=True)
            (folder / MAPPING_NAME).unlink(missing_ok=True)
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
    state = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {
        "phase": "waiting", "done": 0, "total": None, "finished": False}
    return jsonify({**state, "text": progress_text(state)})


def progress_text(state: dict) -> str:
    """What the import is doing, in the page's language, with counts where the phase has a total
    (reading a Shapefile or GeoPackage has one; a GeoJSON or a spreadsheet is read without)."""
    phase, done, total = state.get("phase"), state.get("done") or 0, state.get("total")
    if state.get("finished"):
        return gettext("Finished.")
    if phase not in _PHASE_TEXTS:
        return gettext("Waiting to start…")
    counted, uncounted = _PHASE_TEXTS[phase]
    return str(counted % {"done": f"{done:,}", "total": f"{total:,}"}) if total else str(uncounted)


_PHASE_TEXTS = {  # phase: (with a total, without one)
    "read": (lazy_gettext("Reading: %(done)s of %(total)s"), lazy_gettext("Reading the file…")),
    "check": (lazy_gettext("Checking: %(done)s of %(total)s"), lazy_gettext("Checking…")),
    "write": (lazy_gettext("Writing: %(done)s of %(total)s"), lazy_gettext("Writing…")),
}


# The core's messages name the command line's options; on the page they name the form's controls.
_CLI_OPTION = re.compile(r"--(mode|crs|encoding|mapping)\b(?: (insert|upsert-id|upsert-name|EPSG:\d+|gcj02|bd09)\b)?")
_CONTROLS = {"mode": lazy_gettext("Mode"), "crs": lazy_gettext("Coordinate system"),
             "encoding": lazy_gettext("Text encoding"), "mapping": lazy_gettext("Mapping file")}


@bp.app_template_filter("web_controls")
def web_controls(message) -> str:
    """A core message in the page's language (`import_messages`), `--mode upsert-id` in it said as
    the form's “Mode” = upsert-id."""
    def control(match) -> str:
        label = f"“{_CONTROLS[match.group(1)]}”"
        return f"{label} = {match.group(2)}" if match.group(2) else label

    return _CLI_OPTION.sub(control, localised(str(message), current_locale()))


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
