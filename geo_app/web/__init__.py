"""The thin web layer: blueprints that parse requests into plain arguments and encode results."""

from __future__ import annotations

from flask import current_app

from ..config import Config
from ..storage import Store


def get_store() -> Store:
    """The app's store (opened once by the factory, connections per request inside)."""
    return current_app.extensions["geo_app.store"]


def get_config() -> Config:
    """The app's typed configuration."""
    return current_app.config["GEO_APP"]
