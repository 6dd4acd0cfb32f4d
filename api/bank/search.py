"""Full-text search behind one interface: SQLite FTS5 or PostgreSQL tsvector with GIN.

Both backends get the same query semantics: the words of `q` (minus common English
stop words) must all match, stemmed, and the last word also matches as a prefix so
that as-you-type search works. Results are ranked by relevance (bm25 / ts_rank).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, false, func, literal_column, select, text
from sqlalchemy.engine import Connection

from api.bank.models import Question

MAX_TERMS = 16
_WORD = re.compile(r"\w+", re.UNICODE)
STOP_WORDS = frozenset(
    "a an and are as at be by can do does for from how in is it of on or the to what when "
    "where which who why with you your".split()
)

SQLITE_DDL = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS questions_fts USING fts5(
        search_text, content='questions', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS questions_fts_ai AFTER INSERT ON questions BEGIN
        INSERT INTO questions_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS questions_fts_ad AFTER DELETE ON questions BEGIN
        INSERT INTO questions_fts(questions_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS questions_fts_au AFTER UPDATE OF search_text ON questions
    BEGIN
        INSERT INTO questions_fts(questions_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO questions_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
]

POSTGRESQL_DDL = [
    """ALTER TABLE questions ADD COLUMN IF NOT EXISTS search_tsv tsvector
        GENERATED ALWAYS AS (to_tsvector('english', search_text)) STORED""",
    "CREATE INDEX IF NOT EXISTS ix_questions_search_tsv ON questions USING gin (search_tsv)",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS questions_fts_au",
    "DROP TRIGGER IF EXISTS questions_fts_ad",
    "DROP TRIGGER IF EXISTS questions_fts_ai",
    "DROP TABLE IF EXISTS questions_fts",
]
POSTGRESQL_DROP = [
    "DROP INDEX IF EXISTS ix_questions_search_tsv",
    "ALTER TABLE questions DROP COLUMN IF EXISTS search_tsv",
]


def install_search(connection: Connection) -> None:
    """Create the backend's search structures, for a schema made from the models (api/schema.py)."""
    statements = SQLITE_DDL if connection.dialect.name == "sqlite" else POSTGRESQL_DDL
    for statement in statements:
        connection.execute(text(statement))


def uninstall_search(connection: Connection) -> None:
    statements = SQLITE_DROP if connection.dialect.name == "sqlite" else POSTGRESQL_DROP
    for statement in statements:
        connection.execute(text(statement))


def search_terms(q: str) -> list[str]:
    """The words a query searches for; stop words dropped unless nothing else is left."""
    words = [w.lower() for w in _WORD.findall(q)][:MAX_TERMS]
    kept = [w for w in words if w not in STOP_WORDS]
    return kept or words


def _sqlite_match(terms: list[str]) -> str:
    match = " ".join(f'"{t}"' for t in terms[:-1])
    return f'{match} "{terms[-1]}"*'.strip()


@dataclass(frozen=True)
class IndexSearch:
    """A search answered from the full-text index alone (see `index_search`)."""

    count: Select  # SELECT count(*) of the matches
    ids: Select  # SELECT of the matching ids (column `id`), to be ordered by the keys
    keys: tuple[ColumnElement, ...]  # relevance, then id: ascending, best first


def index_search(q: str, dialect: str) -> IndexSearch | None:
    """A relevance-ordered search with no other filter, on SQLite: the index does it all.

    Counting and ranking then never touch the questions table, whose rows (holding the
    full text) are costly to visit by the thousand; only the page's rows are read
    afterwards. None where that does not apply (PostgreSQL keeps its tsvector in the
    table; nothing searchable in `q`).
    """
    terms = search_terms(q)
    if dialect != "sqlite" or not terms:
        return None
    match = text("questions_fts MATCH :fts_query").bindparams(fts_query=_sqlite_match(terms))
    rowid = literal_column("questions_fts.rowid")
    fts = text("questions_fts")
    return IndexSearch(
        count=select(func.count()).select_from(fts).where(match),
        ids=select(rowid.label("id")).select_from(fts).where(match),
        keys=(literal_column("bm25(questions_fts)"), rowid),
    )


def apply_search(stmt: Select, q: str, dialect: str) -> tuple[Select, ColumnElement]:
    """Restrict `stmt` to questions matching `q`; returns it with an ORDER BY-ready rank.

    The rank expression sorts best first in ascending order on both backends.
    """
    terms = search_terms(q)
    if not terms:
        # Nothing searchable (only punctuation): an empty result, not a syntax error.
        return stmt.where(false()), Question.id
    if dialect == "sqlite":
        match = _sqlite_match(terms)
        fts = (
            select(
                literal_column("rowid").label("question_id"),
                literal_column("bm25(questions_fts)").label("rank"),
            )
            .select_from(text("questions_fts"))
            .where(text("questions_fts MATCH :fts_query").bindparams(fts_query=match))
            .subquery("fts")
        )
        stmt = stmt.join(fts, fts.c.question_id == Question.id)
        return stmt, fts.c.rank
    query = " & ".join([*terms[:-1], f"{terms[-1]}:*"])
    tsquery = func.to_tsquery(literal_column("'english'::regconfig"), query)
    tsv = literal_column("questions.search_tsv")
    return stmt.where(tsv.op("@@")(tsquery)), -func.ts_rank_cd(tsv, tsquery)
