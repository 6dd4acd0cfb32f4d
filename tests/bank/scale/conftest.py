"""At scale: a generated bank of 100,000 questions, on SQLite and on PostgreSQL.

What is proven, from the SQL the endpoints really run (captured with its parameters while
the endpoint is called through the test client, then EXPLAINed as is):

- full-text search goes through the search index (FTS5 / GIN), never a scan of questions;
- deep pages, sorts and filters walk an index in order: nothing sorts the table;
- random draws never ORDER BY RANDOM(); their id probes are index lookups by id;
- every list endpoint issues a fixed number of statements, whatever the page size;
- totals, last pages and search results are right, checked against hand-written SQL.

No timings are asserted (speed is measured by the benchmarks). generate_bank ends with
VACUUM ANALYZE (PostgreSQL) / ANALYZE (SQLite), as autovacuum would: the PostgreSQL
plans the tests check depend on those statistics and on the visibility map that VACUUM sets.

The generated bank is package-scoped: built once per backend for every module here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.bank.synthetic import generate_bank
from api.extensions import db
from tests.support.apps import build_app, temporary_app
from tests.support.scale import SCALE, Bank


@pytest.fixture(scope="package")
def bank_url(backend, database_factory) -> str:
    url = database_factory(backend, "qbank_scale")
    app = build_app(url)
    with app.app_context():
        assert generate_bank(count=SCALE) == SCALE
        db.engine.dispose()
    return url


@pytest.fixture(scope="package")
def bank(backend, bank_url) -> Iterator[Bank]:
    """The app with its caches off: every request runs its SQL, which is what is examined."""
    with temporary_app(bank_url, RESPONSE_CACHE_MAX_BYTES=0, ID_POOL_MAX_BYTES=0) as app:
        with app.app_context():
            engine = db.engine
        yield Bank(backend, app, engine)
