"""Where an export's features come from: the store, page by page, in id order.

Pages are read by keyset (`id > last id`, `LIMIT n`), so each costs an index seek however deep into
the layer it is, and at most one page is held at a time: 200,000 estates leave in bounded memory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

from ...errors import InvalidParameter
from ...storage import FeatureQuery, FeatureRows, Store
from ...storage.geopackage import GeoPackageStore
from .. import spatial

PAGE_SIZE = 5_000


def feature_pages(store: Store, layer: str, query: FeatureQuery, page_size: int = PAGE_SIZE) -> Iterator[FeatureRows]:
    """The features matching `query`, in pages of at most `page_size`, ordered by id.

    A write between two pages can show in the later ones (each page reads the store as it is
    then); an export never sees half of a transaction, as each page is one statement.
    """
    query = dataclasses.replace(query, order_by=None, offset=0, limit=page_size, after_id=None, with_geometry=True)
    return store.keyset_pages(layer, query)


@dataclasses.dataclass(frozen=True)
class GeoPackageSource:
    """A GeoPackage store's own file and the ids of the features to export (None: all of the
    layer), for exports that read the file directly with SQL (`gpkg.copy_geopackage`)."""

    path: Path
    ids: list[int] | None


def geopackage_source(store: Store, layer: str, query: FeatureQuery) -> GeoPackageSource | None:
    """Where a GeoPackage export can copy from, when the store is a GeoPackage file; None otherwise.

    A filtered query is run by the store (its R-tree, its exact tests), ids only, in one statement;
    the whole layer needs no such list."""
    if not isinstance(store, GeoPackageStore):
        return None
    query = dataclasses.replace(query, order_by=None, offset=0, limit=None, after_id=None, with_geometry=True,
                                fields=None)
    if query == FeatureQuery():
        return GeoPackageSource(store.path, None)
    ids = store.feature_rows(layer, dataclasses.replace(query, with_geometry=False, fields=())).ids
    return GeoPackageSource(store.path, ids)


def within_office(store: Store, layer: str, query: FeatureQuery, office_code: str | None) -> FeatureQuery:
    """The query narrowed to the estates that belong to a street office *by geometry* (the office
    containing them, or the one they overlap most), as /api/street-offices/<code>/estates lists
    them; the `street_office` filter, like the map's, goes by the estates' attribute instead."""
    if not office_code:
        return query
    if layer != "estates":
        raise InvalidParameter("within_office applies to the estates layer only", parameter="within_office")
    _office, estates, _members = spatial.estates_of_office(store, office_code)
    ids = {f.id for f in estates}
    if query.ids is not None:
        ids &= set(query.ids)
    return dataclasses.replace(query, ids=tuple(sorted(ids)))


def street_office_codes(store: Store) -> dict[str, str]:
    """Each street office's name -> its code, in the layer's order."""
    if "street_offices" not in store.layers:
        return {}
    query = FeatureQuery(with_geometry=False, fields=("code", "name"))
    return {f.properties["name"]: f.properties["code"] for f in store.features("street_offices", query)}


def resolve_street_offices(store: Store, layer: str, query: FeatureQuery, codes: dict[str, str]) -> FeatureQuery:
    """The `street_office` filter with each office given by its name or its code (`lincheng`), as
    the names the layers store; one that is neither is a 400 listing the names, where it would
    otherwise export an empty file without a word. A name the layer's own features carry passes
    too (imported data may name an office the offices layer lacks)."""
    values = query.equals.get("street_office")
    if not values:
        return query
    by_code = {code: name for name, code in codes.items()}
    names = [v if v in codes else by_code.get(v, v) for v in values]
    unknown = [v for v, n in zip(values, names) if n not in codes
               and not store.count(layer, FeatureQuery.where(street_office=n))]
    if unknown:
        raise InvalidParameter(f"street_office: no street office {', '.join(map(repr, unknown))}; "
                               f"street offices: {_listed(list(codes))} (or their codes)", parameter="street_office")
    return dataclasses.replace(query, equals={**query.equals, "street_office": tuple(dict.fromkeys(names))})


def _listed(names: list[str], most: int = 30) -> str:
    # A province has a thousand offices: a message naming them all would bury the point.
    more = f" and {len(names) - most:,} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more if names else "none"
