"""The product's WSGI app with the bench's bare floor endpoint added (``gunicorn tests.bench.floor_app:app``)."""

from tests.bench.floor import with_floor
from wsgi import app as product

app = with_floor(product)
