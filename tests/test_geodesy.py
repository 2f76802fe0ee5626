"""Tests for geo_app.core.geodesy: GCJ-02 conversions, geometry transforms and geodesic areas."""

import numpy as np
import pytest
import shapely
import shapely.affinity
from pyproj import CRS, Geod
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geo_app.core import geodesy

GEOD = Geod(ellps="WGS84")

# (wgs_lon, wgs_lat, gcj_lon, gcj_lat): the reference pairs of the widely used eviltransform and
# coordtransform libraries' own test suites (Shanghai, Shenzhen, Beijing, Tiananmen area).
REFERENCE_PAIRS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),
]


def _metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.mark.parametrize("wgs_lon, wgs_lat, gcj_lon, gcj_lat", REFERENCE_PAIRS)
def test_forward_matches_published_reference_pairs(wgs_lon, wgs_lat, gcj_lon, gcj_lat):
    lon, lat = geodesy.wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert lon == pytest.approx(gcj_lon, abs=1e-9)
    assert lat == pytest.approx(gcj_lat, abs=1e-9)


@pytest.mark.parametrize("wgs_lon, wgs_lat, gcj_lon, gcj_lat", REFERENCE_PAIRS)
def test_inverse_recovers_reference_wgs84(wgs_lon, wgs_lat, gcj_lon, gcj_lat):
    lon, lat = geodesy.gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert _metres(lon, lat, wgs_lon, wgs_lat) < 0.01


def test_round_trip_across_china_is_sub_decimetre():
    lon, lat = np.meshgrid(np.linspace(74.0, 134.0, 41), np.linspace(18.0, 53.0, 36))
    lon, lat = lon.ravel(), lat.ravel()
    back_lon, back_lat = geodesy.gcj02_to_wgs84(*geodesy.wgs84_to_gcj02(lon, lat))
    assert back_lon.shape == lon.shape
    assert np.max(_metres(lon, lat, back_lon, back_lat)) < 0.1


def test_scalars_in_scalars_out():
    lon, lat = geodesy.gcj02_to_wgs84(117.27, 34.80)
    assert isinstance(lon, float) and isinstance(lat, float)


def test_offset_near_xuecheng_is_about_half_a_kilometre():
    lon, lat = geodesy.wgs84_to_gcj02(117.26, 34.80)
    shift = _metres(117.26, 34.80, lon, lat)
    assert 500 < shift < 600
    # GCJ-02 points plotted on a WGS84 map sit to the east there (Amap tiles look shifted west).
    assert lon > 117.26


@pytest.mark.parametrize("lon, lat", [(2.35, 48.86), (-74.0, 40.7), (139.69, 35.69), (151.2, -33.87)])
def test_points_outside_china_are_unchanged(lon, lat):
    assert geodesy.wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert geodesy.gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_transform_geometry_moves_every_vertex():
    poly = MultiPolygon([box(117.25, 34.79, 117.27, 34.81), box(117.30, 34.79, 117.31, 34.80)])
    moved = geodesy.transform_geometry(poly, geodesy.wgs84_to_gcj02)
    assert moved.geom_type == "MultiPolygon"
    src, dst = shapely.get_coordinates(poly), shapely.get_coordinates(moved)
    expected = np.column_stack(geodesy.wgs84_to_gcj02(src[:, 0], src[:, 1]))
    assert np.allclose(dst, expected, atol=1e-12, rtol=0)
    back = geodesy.transform_geometry(moved, geodesy.gcj02_to_wgs84)
    assert np.allclose(shapely.get_coordinates(back), src, atol=1e-9, rtol=0)


def test_local_projection_for_xuecheng_is_cgcs2000_cm117():
    crs = geodesy.local_projection(117.26)
    assert crs == CRS.from_epsg(4548)
    assert "117E" in crs.name
    assert geodesy.local_projection(116.4).to_epsg() == 4548
    assert geodesy.local_projection(122.0).to_epsg() == 4550


def test_square_kilometre_in_gauss_kruger_has_geodesic_area_of_one_million():
    to_local = geodesy.transformer(4326, 4548)
    x0, y0 = to_local.transform(117.26, 34.80)
    square = box(x0, y0, x0 + 1000.0, y0 + 1000.0)
    wgs = geodesy.reproject(square, 4548, 4326)
    assert geodesy.geodesic_area_m2(wgs) == pytest.approx(1_000_000.0, rel=0.005)


def test_geodesic_area_ignores_ring_orientation_and_subtracts_holes():
    outer = [(117.25, 34.79), (117.27, 34.79), (117.27, 34.81), (117.25, 34.81)]
    hole = [(117.255, 34.795), (117.265, 34.795), (117.265, 34.805), (117.255, 34.805)]
    ccw, cw = Polygon(outer), Polygon(outer[::-1])
    assert geodesy.geodesic_area_m2(ccw) == pytest.approx(geodesy.geodesic_area_m2(cw))
    with_hole = Polygon(outer, [hole])  # hole given counter-clockwise on purpose
    expected = geodesy.geodesic_area_m2(ccw) - geodesy.geodesic_area_m2(Polygon(hole))
    assert geodesy.geodesic_area_m2(with_hole) == pytest.approx(expected)


def test_geodesic_area_array():
    areas = geodesy.geodesic_area_m2_array([box(117.25, 34.79, 117.26, 34.80), None, Point(117.0, 34.0)])
    assert areas.shape == (3,)
    assert areas[0] > 0 and areas[1] == 0 and areas[2] == 0


@pytest.mark.parametrize("lat", [18.3, 34.8, 53.4])  # Sanya, Zaozhuang, Mohe
def test_vectorised_areas_agree_with_geodesic_areas_for_estate_sized_polygons(lat):
    # Estates, estates with a courtyard (hole) and two-part estates, 50 m to 5 km across.
    shapes = []
    for size in (0.0005, 0.003, 0.02, 0.049):
        ring = shapely.affinity.rotate(Point(117.3, lat).buffer(size / 2, quad_segs=5), 17)
        shapes += [ring, ring.difference(Point(117.3, lat).buffer(size / 6)),
                   shapely.MultiPolygon([ring, shapely.affinity.translate(ring, size * 2, 0)])]
    fast = geodesy.geodesic_area_m2_array(shapes)
    exact = [geodesy.geodesic_area_m2(s) for s in shapes]
    assert fast == pytest.approx(exact, rel=1e-7)
