"""`python -m geo_app` runs the command line."""

from .cli import run

run()
