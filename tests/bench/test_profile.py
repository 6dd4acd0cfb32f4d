"""`make profile`'s bookkeeping (bench/profile.py): where a function's time is counted, and
the table's floor column. The profile itself is run by `make profile`, not here."""

from __future__ import annotations

from bench import profile


def test_functions_are_counted_in_their_package():
    site = "/work/.venv/lib/python3.11/site-packages"
    assert profile._package(f"{site}/werkzeug/test.py", "run_wsgi_app") == "test client"
    assert profile._package(f"{site}/werkzeug/routing/map.py", "match") == "Flask & extensions"
    assert profile._package("/work/main/api/bank/rows.py", "_payload") == "api"
    assert profile._package(f"{site}/sqlalchemy/sql/coercions.py", "expect") == "SQLAlchemy"
    assert profile._package("~", "<method 'execute' of 'sqlite3.Cursor' objects>") == "DB driver"
    assert profile._package("~", "<built-in method builtins.isinstance>") == "builtins"
    assert profile._package("/usr/lib/python3.11/uuid.py", "uuid4") == "stdlib"


def test_the_table_sets_each_row_against_the_floor():
    rows = [
        {
            "endpoint": "through Flask",
            "cpu_ms": 0.3,
            "wall_ms": 0.3,
            "statements": 0.0,
            "driver_ms": 0.0,
            "shares": {"Flask & extensions": 0.5, "api": 0.1},
        },
        {
            "endpoint": "random",
            "cpu_ms": 1.25,
            "wall_ms": 1.3,
            "statements": 2.0,
            "driver_ms": 0.1,
            "shares": {"SQLAlchemy": 0.25},
        },
    ]
    text = profile.table("sqlite", rows)
    assert "| sqlite | random | 1.25 | 0.95 | 1.30 | 2.0 | 0.10 |" in text
    assert "| sqlite | through Flask | 0.30 | 0.00 |" in text
    assert "25%" in text.splitlines()[-1]
