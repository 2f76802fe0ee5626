"""Hostile and mistaken inputs: each refused with a message naming the file (and the first offending
feature where there is one), the store byte-identical afterwards, no temporary file left behind."""

from __future__ import annotations

import struct
import zipfile

import pytest

from geo_app.core.importing import ImportOptions, ImportRefused, Limits, run_import

from import_support import estate_rows, frame, geojson_file, snapshot, write_shapefile


def refused(store, path, match, tmp_path, **options):
    """Assert the import is refused with `match`, the store untouched and the workspace emptied."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    before = snapshot(store)
    with pytest.raises(ImportRefused, match=match):
        run_import(store, path, ImportOptions(temp_dir=work, **options))
    assert snapshot(store) == before
    assert list(work.iterdir()) == []


def test_malformed_json(store, tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [\n  {"type": "Feature",,}\n]}', encoding="utf-8")
    refused(store, path, r"broken\.geojson: not valid JSON: .* line 2", tmp_path)


def test_geojson_that_is_not_utf8(store, tmp_path):
    path = geojson_file(tmp_path / "gbk.geojson", estate_rows(1))
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    refused(store, path, r"gbk\.geojson: not UTF-8 text .*GeoJSON must be UTF-8", tmp_path)


def test_shapefile_without_dbf(store, tmp_path):
    archive = write_shapefile(frame(estate_rows(2)), tmp_path / "shp", "nodbf")
    with zipfile.ZipFile(archive) as z:
        members = {n: z.read(n) for n in z.namelist() if not n.endswith(".dbf")}
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    refused(store, archive, r"nodbf\.zip: the Shapefile has no \.dbf", tmp_path)


def test_zip_slip_path(store, tmp_path):
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../evil.geojson", '{"type": "FeatureCollection", "features": []}')
    refused(store, archive, r"slip\.zip: refused: member '\.\./\.\./evil\.geojson' has a '\.\.' component", tmp_path)
    assert not (tmp_path / "evil.geojson").exists()


def test_member_declaring_a_gigabyte(store, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.geojson", b" " * 2_000_000)
    # Claim 1 GB unpacked in the central directory (what a bomb's header says before extraction).
    data = bytearray(archive.read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1_000_000_000)
    archive.write_bytes(bytes(data))
    refused(store, archive, r"bomb\.zip: refused: member 'big\.geojson' would unpack .*zip bomb", tmp_path)
    refused(store, archive, r"bomb\.zip: refused: the archive declares 954 MB unpacked, more than the limit of 500 MB",
            tmp_path, limits=Limits(max_upload=10 * 1024 * 1024, max_unpacked=500 * 1024 * 1024))


def test_upload_over_the_size_limit(store, tmp_path):
    path = geojson_file(tmp_path / "big.geojson", estate_rows(40))
    refused(store, path, r"big\.geojson: .* MB is more than the limit", tmp_path,
            limits=Limits(max_upload=1000, max_unpacked=10_000))


def test_swapped_longitude_and_latitude(store, tmp_path):
    path = geojson_file(tmp_path / "swapped.geojson", estate_rows(2), transform=lambda x, y: (y, x))
    refused(store, path, r"swapped\.geojson: feature 1 .*look swapped", tmp_path)


def test_projected_metres_declared_as_degrees(store, tmp_path):
    from import_support import projected

    rows = estate_rows(2)
    gdf = frame(rows).set_geometry([projected(r["geometry"], 4527) for r in rows], crs=None)
    path = tmp_path / "metres.geojson"
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
    refused(store, path, r"metres\.geojson: feature 1 has coordinates .*projected metres.*EPSG:4527", tmp_path,
            crs="EPSG:4326")


def test_coordinates_outside_china(store, tmp_path):
    rows = estate_rows(3)
    path = geojson_file(tmp_path / "paris.geojson", rows, transform=lambda x, y: (x - 115, y + 14))
    refused(store, path, r"paris\.geojson: feature 1 lies at \(2\.\d+, 48\.\d+\), outside China", tmp_path)


def test_unsupported_declared_crs_and_unknown_file_type(store, tmp_path):
    path = geojson_file(tmp_path / "ok.geojson", estate_rows(1))
    refused(store, path, r"EPSG:3857 is not supported", tmp_path, crs="EPSG:3857")
    odd = tmp_path / "estates.dwg"
    odd.write_bytes(b"AC1032")
    refused(store, odd, r"estates\.dwg: unsupported file type '\.dwg'", tmp_path)


def test_temporary_files_are_removed_after_a_successful_import(store, tmp_path):
    archive = write_shapefile(frame(estate_rows(2)), tmp_path / "shp", "fine")
    work = tmp_path / "work"
    report = run_import(store, archive, ImportOptions(temp_dir=work))
    assert report.ok and report.inserted == 2
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("suffix", [".kml", ".gpkg", ".geojson"])
def test_a_gdal_vrt_under_another_name_cannot_read_server_files(store, tmp_path, suffix):
    secret = tmp_path / "secret.csv"
    secret.write_text("name,WKT\nTOPSECRET,POINT (117.3 34.8)\n", encoding="utf-8")
    vrt = tmp_path / f"upload{suffix}"
    vrt.write_text(f'<OGRVRTDataSource><OGRVRTLayer name="secret"><SrcDataSource>{secret}</SrcDataSource>'
                   '</OGRVRTLayer></OGRVRTDataSource>', encoding="utf-8")
    refused(store, vrt, rf"upload\{suffix}: (the content is not|not valid JSON)", tmp_path)
