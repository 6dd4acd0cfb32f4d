"""A schema made from the models, for tests and throwaway databases.

Deployed databases are built and changed by the migrations (api/migrations), whose
frozen DDL tests/platform/test_migrations.py compares with what this module makes.
The models describe the tables; the dialect-specific parts (full-text search, the
bank revision triggers) are installed after them, in the same transaction.
"""

from __future__ import annotations

from api.bank.search import install_search, uninstall_search
from api.extensions import db
from api.platform.bank_revision import install_versioning, uninstall_versioning


def create_all() -> None:
    """Every table of the models, then search and bank revision DDL (in an app context)."""
    with db.engine.begin() as connection:
        db.metadata.create_all(connection)
        install_search(connection)
        install_versioning(connection)


def drop_all() -> None:
    """Everything create_all makes.

    Dropping a table drops its triggers and its generated search column; what stands on
    its own (SQLite's FTS table, PostgreSQL's trigger function) is dropped by name.
    """
    with db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            uninstall_search(connection)  # IF EXISTS throughout: safe on an empty database
        db.metadata.drop_all(connection)
        if connection.dialect.name == "postgresql":
            uninstall_versioning(connection)
