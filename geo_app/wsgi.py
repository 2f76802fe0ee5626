"""WSGI entry for production servers: `gunicorn -w 2 -b 127.0.0.1:5000 'geo_app.wsgi:app'`.

Run `geo-app init` once before; workers only open the store.
"""

from . import create_app

app = create_app()
