"""Where an export's features come from: the store, page by page, in id order.

Pages are read by keyset (`id > last id`, `LIMIT n`), so each costs an index seek however deep into
the layer it is, and at most one page is held at a time: 200,000 estates leave in bounded memory.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from ...errors import InvalidParameter
from ...storage import FeatureQuery, FeatureRows, Store
from .. import spatial

PAGE_SIZE = 5_000


def feature_pages(store: Store, layer: str, query: FeatureQuery, page_size: int = PAGE_SIZE) -> Iterator[FeatureRows]:
    """The features matching `query`, in pages of at most `page_size`, ordered by id.

    A write between two pages can show in the later ones (each page reads the store as it is
    then); an export never sees half of a transaction, as each page is one statement.
    """
    query = dataclasses.replace(query, order_by=None, offset=0, limit=page_size, with_geometry=True)
    after = None
    while True:
        rows = store.feature_rows(layer, dataclasses.replace(query, after_id=after))
        if rows.ids:
            yield rows
        if len(rows.ids) < page_size:
            return
        after = rows.ids[-1]


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
