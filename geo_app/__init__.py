"""geo_app: a web GIS for the renovation of old residential estates (老旧小区改造)."""

__version__ = "0.1.0"


def create_app(config=None):
    """The Flask application (see `geo_app.app.create_app`); imported lazily, nothing runs at import."""
    from .app import create_app as factory

    return factory(config)
