"""A PostgreSQL of the fault tests' own, so stopping it cannot disturb the session-wide one
other tests use, and the seeded database each test copies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.support.faults import (
    TEMPLATE_DB,
    admin,
)
from tests.support.live import (
    app_env,
    flask_cli,
)
from tests.support.servers import PgServer, postgres_server


@pytest.fixture(scope="package")
def pg() -> Iterator[PgServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="package")
def template(pg: PgServer, tmp_path_factory) -> str:
    """A migrated, seeded database each test copies (CREATE DATABASE ... TEMPLATE)."""
    with admin(pg) as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    url = make_url(pg.url).set(database=TEMPLATE_DB).render_as_string(hide_password=False)
    env = app_env(url, tmp_path_factory.mktemp("faults-template"))
    flask_cli(env, "db", "upgrade")
    assert "created" in flask_cli(env, "seed")
    return TEMPLATE_DB
