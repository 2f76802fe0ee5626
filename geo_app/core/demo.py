"""Loading the layers' own data (`layers/<area>/*.geojson`) into a store: the `init` command.

The demo files are RFC 7946 GeoJSON in WGS84, written by `layers/generate_demo.py`. Loading
replaces what each layer held, in one transaction, so a failed load leaves the store as it was.
"""

from __future__ import annotations

import json
import logging

from ..errors import ValidationError
from ..storage import Store

log = logging.getLogger(__name__)


def load_layer_sources(store: Store) -> dict[str, int]:
    """Replace every layer that names a source file with that file's features; returns counts."""
    batches = {}
    for layer in store.layers.values():
        if layer.source is None:
            continue
        try:
            data = json.loads(layer.source.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationError(f"{layer.source}: cannot read layer '{layer.name}': {exc}") from None
        if data.get("type") != "FeatureCollection":
            raise ValidationError(f"{layer.source}: expected a GeoJSON FeatureCollection")
        batches[layer.name] = data["features"]
    with store.transaction() as writer:
        for name, features in batches.items():
            writer.clear(name)
            writer.insert(name, features)
    counts = {name: len(features) for name, features in batches.items()}
    store.checkpoint()  # a freshly built GeoPackage is complete without its -wal file
    log.info("loaded %s into %s", ", ".join(f"{n}: {c}" for n, c in counts.items()), store.description)
    return counts


def ensure_store(store: Store) -> bool:
    """Create and fill the store from `layers/` when it does not exist yet; True when it did so."""
    if store.exists():
        store.initialise()  # cheap; adds tables/columns that newer layer definitions bring
        return False
    store.initialise()
    load_layer_sources(store)
    return True
