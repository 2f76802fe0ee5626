"""Core logic of geo_app: geodesy and other web-neutral building blocks (no Flask here)."""
