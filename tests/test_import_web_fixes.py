"""The import page after the audit: every declarable CGCS2000 zone offered, a mapping-file upload,
nothing kept from a refused or cancelled preview, a 413 page that says the limit, and messages that
name the form's controls rather than the command line's options."""

from __future__ import annotations

import io
import json
import os
import re
import time
from html.parser import HTMLParser

import pytest
from pyproj import CRS

from geo_app.core.importing.crs import GEOGRAPHIC_EPSG, GK_EPSG, parse_declared
from geo_app.storage import FeatureQuery
from geo_app.web.imports import SWEEP_AFTER_S, progress_text, web_controls

from import_support import estate_rows, geojson_file
from test_import_web import TOKEN, csrf, make_app, signed_in, upload, wait_for_report


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def client(app):
    return signed_in(app)


def uploads_dir(app):
    return app.config["GEO_APP"].data_dir / "uploads"


def folders(app) -> list:
    root = uploads_dir(app)
    return sorted(root.iterdir()) if root.is_dir() else []


class CrsSelect(HTMLParser):
    """The crs <select>: (group label or None, value, label, selected) per option."""

    def __init__(self):
        super().__init__()
        self.inside, self.group, self.options, self._open = False, None, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self.inside = attrs.get("name") == "crs"
        elif self.inside and tag == "optgroup":
            self.group = attrs["label"]
        elif self.inside and tag == "option":
            self._open = [self.group, attrs["value"], "", "selected" in attrs]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._open is not None:
            self.options.append(tuple(self._open))
            self._open = None
        elif tag == "select":
            self.inside = False


def crs_options(html: str) -> list[tuple]:
    parser = CrsSelect()
    parser.feed(html)
    return parser.options


# --- 1. every CGCS2000 Gauss-Kruger zone can be declared ----------------------------------------
def test_every_crs_the_core_accepts_is_offered_with_a_true_label(client):
    options = crs_options(client.get("/admin/import/?lang=en").get_data(as_text=True))
    values = {value for _, value, _, _ in options}
    accepted = {f"EPSG:{n}" for n in [*GEOGRAPHIC_EPSG, *GK_EPSG]} | {"gcj02", "bd09"}
    assert values == accepted | {""}
    for value in values - {""}:
        parse_declared(value)  # the core takes every offered value
    for _, value, label, _ in options:
        if value.startswith("EPSG:") and int(value[5:]) in GK_EPSG:
            epsg = int(value[5:])
            assert label.endswith(f"— EPSG:{epsg}")
            name = CRS.from_epsg(epsg).name  # "… zone 39" (zone prefix) or "… CM 117E" (none)
            zone, cm = re.search(r"zone (\d+) \(CM (\d+)°E\)", label).groups()
            assert (f"zone {zone}" in name) if "with zone prefix" in label else (f"CM {cm}E" in name), (label, name)
            assert ("3-degree" in name) == label.startswith("CGCS2000 / 3°")
    labels = {value: label for _, value, label, _ in options}
    assert labels["EPSG:4527"] == "CGCS2000 / 3° GK zone 39 (CM 117°E), with zone prefix — EPSG:4527"
    assert labels["EPSG:4548"] == "CGCS2000 / 3° GK zone 39 (CM 117°E), without zone prefix — EPSG:4548"


def test_shandong_zones_come_first_and_one_choice_is_selected(client, tmp_path):
    options = crs_options(client.get("/admin/import/").get_data(as_text=True))
    assert options[0][:2] == (None, "")  # "from the file"
    first_group = options[1][0]
    shandong = [value for group, value, _, _ in options if group == first_group]
    assert shandong == ["EPSG:4526", "EPSG:4547", "EPSG:4527", "EPSG:4548", "EPSG:4528", "EPSG:4549",
                        "EPSG:4529", "EPSG:4550", "EPSG:4498", "EPSG:4509", "EPSG:4499", "EPSG:4510"]
    assert first_group.startswith("山东")
    # EPSG:4548 is listed twice (Shandong, and all 3° zones): a preview keeps the choice, once.
    path = geojson_file(tmp_path / "a.geojson", estate_rows(1))
    html = upload(client, path, csrf(client), crs="EPSG:4548").get_data(as_text=True)
    assert [value for _, value, _, selected in crs_options(html) if selected] == ["EPSG:4548"]


# --- 2. a mapping file from the web --------------------------------------------------------------
MAPPING = """[columns]
XQMC = "name"
"备注" = ""
[values.status]
"竣工" = "completed"
"""


def mapped_file(tmp_path):
    rows = estate_rows(2, prefix="MAP")
    for row in rows:
        row["XQMC"] = row.pop("name")
        row["status"] = "竣工"
        row["备注"] = "none"
    return geojson_file(tmp_path / "mapped.geojson", rows)


def upload_with_mapping(client, path, mapping: bytes, name="map.toml", **fields):
    data = {"layer": "estates", "crs": "", "encoding": "", "mode": "insert", "csrf_token": csrf(client), **fields,
            "file": (io.BytesIO(path.read_bytes()), path.name), "mapping": (io.BytesIO(mapping), name)}
    return client.post("/admin/import/?lang=en", data=data, content_type="multipart/form-data")


def test_a_mapping_file_maps_the_preview_and_the_import(app, client, tmp_path):
    path = mapped_file(tmp_path)
    without = upload(client, path, csrf(client)).get_data(as_text=True)
    assert 'id="import-confirm"' not in without  # no name, 竣工 unknown
    html = upload_with_mapping(client, path, MAPPING.encode()).get_data(as_text=True)
    assert "XQMC → name" in html and 'id="import-confirm"' in html
    (folder,) = folders(app)
    assert (folder / "mapping.toml").read_text(encoding="utf-8") == MAPPING
    confirm = re.search(r'action="(/admin/import/[0-9a-f]{32}/confirm)"', html).group(1)
    redirect = client.post(confirm, data={"csrf_token": TOKEN.search(html).group(1)})
    assert "Imported" in wait_for_report(client, redirect.headers["Location"])
    store = app.extensions["geo_app.store"]
    stored = store.features("estates", FeatureQuery.where(code=["MAP-001", "MAP-002"], with_geometry=False))
    assert sorted((f.properties["name"], f.properties["status"]) for f in stored) == [
        ("测试1号小区", "completed"), ("测试2号小区", "completed")]
    assert not (folder / "mapping.toml").exists()  # gone with the upload


def test_a_bad_mapping_file_is_refused_by_name_and_nothing_is_kept(app, client, tmp_path):
    path = mapped_file(tmp_path)
    html = upload_with_mapping(client, path, b"[columns]\nXQMC = \n", name="bad.toml").get_data(as_text=True)
    assert "mapping file bad.toml: cannot be read (" in html
    assert "uploads" not in html and "mapping.toml" not in html  # no server path
    html = upload_with_mapping(client, path, b"[colums]\nXQMC = 'name'\n", name="typo.toml").get_data(as_text=True)
    assert "mapping file typo.toml: unknown section(s) colums" in html
    html = upload_with_mapping(client, path, b"#" * (300 * 1024), name="huge.toml").get_data(as_text=True)
    assert "huge.toml: a mapping file may hold at most 256 KB." in html
    assert folders(app) == []


# --- 3. nothing kept from a refused or cancelled preview ----------------------------------------
def test_a_preview_with_errors_keeps_nothing(app, client, tmp_path):
    rows = estate_rows(2, prefix="BAD")
    rows[1]["households"] = -3
    html = upload(client, geojson_file(tmp_path / "bad.geojson", rows), csrf(client)).get_data(as_text=True)
    assert 'id="import-problems"' in html and 'id="import-confirm"' not in html
    assert folders(app) == []


def test_cancel_removes_the_preview_at_once_but_not_a_running_import(app, client, tmp_path):
    html = upload(client, geojson_file(tmp_path / "ok.geojson", estate_rows(1, prefix="CAN")),
                  csrf(client)).get_data(as_text=True)
    assert 'name="decision" value="cancel"' in html  # the Cancel button of the confirm form
    confirm = re.search(r'action="(/admin/import/[0-9a-f]{32}/confirm)"', html).group(1)
    token = TOKEN.search(html).group(1)
    assert len(folders(app)) == 1
    assert client.post(confirm, data={"decision": "cancel"}).status_code == 400  # CSRF, like every form
    response = client.post(confirm, data={"csrf_token": token, "decision": "cancel"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/import/")
    assert folders(app) == []
    assert client.post(confirm, data={"csrf_token": token}).status_code == 404  # nothing left to import

    html = upload(client, geojson_file(tmp_path / "go.geojson", estate_rows(1, prefix="RUN")),
                  csrf(client)).get_data(as_text=True)
    confirm = re.search(r'action="(/admin/import/[0-9a-f]{32}/confirm)"', html).group(1)
    status_url = client.post(confirm, data={"csrf_token": token}).headers["Location"]
    late = client.post(confirm, data={"csrf_token": token, "decision": "cancel"})
    assert late.status_code == 302 and late.headers["Location"] == status_url
    wait_for_report(client, status_url)
    assert len(folders(app)) == 1  # the report stays readable
    assert app.extensions["geo_app.store"].count("estates", FeatureQuery.where(code="RUN-001")) == 1


def test_abandoned_previews_are_still_swept_after_a_day(app, client, tmp_path):
    upload(client, geojson_file(tmp_path / "old.geojson", estate_rows(1, prefix="OLD")), csrf(client))
    (old,) = folders(app)
    stale = time.time() - SWEEP_AFTER_S - 60
    os.utime(old, (stale, stale))
    upload(client, geojson_file(tmp_path / "new.geojson", estate_rows(1, prefix="NEW")), csrf(client))
    assert old not in folders(app) and len(folders(app)) == 1


# --- 4. the upload limit, said in the user's language ---------------------------------------------
@pytest.mark.parametrize("lang, expected", ids=["zh", "en"], argvalues=[
    ("zh", "太大.geojson 太大，无法在此导入：导入页面接受的文件最大 2 MB（imports.max_upload_mb）。"),
    ("en", "太大.geojson is too large to import here: the import page accepts files of at most 2 MB "
           "(imports.max_upload_mb)."),
])
def test_a_file_over_the_limit_gets_the_import_page_naming_file_and_limit(tmp_path, lang, expected):
    app = make_app(tmp_path, **{"imports.max_upload_mb": 2})
    client = signed_in(app)
    token = csrf(client)
    data = {"csrf_token": token, "file": (io.BytesIO(b" " * (2 * 1024 * 1024 + 10)), "太大.geojson"),
            "layer": "estates", "crs": "", "encoding": "", "mode": "insert"}
    response = client.post(f"/admin/import/?lang={lang}", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert expected in html and 'id="import-form"' in html
    assert "capacity limit" not in html and "2,097" not in html
    assert folders(app) == []


# --- 5. the web names its own controls -------------------------------------------------------------
def post_file(client, path, lang: str, **fields):
    data = {"layer": "estates", "crs": "", "encoding": "", "mode": "insert", "csrf_token": csrf(client), **fields,
            "file": (io.BytesIO(path.read_bytes()), path.name)}
    return client.post(f"/admin/import/?lang={lang}", data=data, content_type="multipart/form-data")


def test_problems_name_the_mode_choice_not_a_command_line_option(app, client, tmp_path):
    store = app.extensions["geo_app.store"]
    taken = store.features("estates", FeatureQuery.where(limit=1, with_geometry=False))[0].properties["code"]
    rows = estate_rows(1, prefix="CLASH")
    rows[0]["code"] = taken
    path = geojson_file(tmp_path / "clash.geojson", rows)
    html = post_file(client, path, "en").get_data(as_text=True)
    assert f"code {taken} already belongs to stored feature" in html
    assert "use “Mode” = upsert-id or upsert-name to update it" in html and "--mode" not in html
    html = post_file(client, path, "zh", mode="upsert-id").get_data(as_text=True)
    assert "“导入方式” = upsert-id 需要“id”列" in html and "--mode" not in html


def test_every_option_the_core_names_becomes_a_control(app):
    with app.test_request_context("/admin/import/?lang=en"):
        assert web_controls("declare it with --crs (EPSG:4326, …)") == "declare it with “Coordinate system” (EPSG:4326, …)"
        assert web_controls("e.g. --crs EPSG:4527)") == "e.g. “Coordinate system” = EPSG:4527)"
        assert web_controls("declare --crs EPSG:4326 or gcj02") == "declare “Coordinate system” = EPSG:4326 or gcj02"
        assert web_controls("give the right one with --encoding") == "give the right one with “Text encoding”"
        assert web_controls("map one with --mapping") == "map one with “Mapping file”"
        assert web_controls("feature id (used by --mode upsert-id)") == "feature id (used by “Mode” = upsert-id)"


def test_progress_says_what_it_does_without_a_count_while_reading(app, client):
    with app.test_request_context("/?lang=en"):
        assert progress_text({"phase": "read", "done": 0, "total": None}) == "Reading the file…"
        # A Shapefile or GeoPackage is read batch by batch against its feature count.
        assert progress_text({"phase": "read", "done": 20000, "total": 200000}) == "Reading: 20,000 of 200,000"
        assert progress_text({"phase": "check", "done": 0, "total": 12000}) == "Checking: 0 of 12,000"
        assert progress_text({"phase": "write", "done": 5000, "total": 12000}) == "Writing: 5,000 of 12,000"
        assert progress_text({"phase": "queued", "done": 0, "total": None}) == "Waiting to start…"
    folder = uploads_dir(app) / ("a" * 32)
    folder.mkdir(parents=True)
    (folder / "progress.json").write_text(json.dumps({"phase": "read", "done": 0, "total": None, "finished": False}))
    answer = client.get(f"/admin/import/{'a' * 32}/progress?lang=zh").get_json()
    assert answer["text"] == "正在读取文件…" and answer["phase"] == "read"
