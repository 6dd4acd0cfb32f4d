"""the bank's content: choice explanations, related groups, original answers; reports

Revision ID: 0008_content
Revises: 0007_grading
Create Date: 2026-12-02 17:00:00

Questions gain `explanations` (one line per choice, shown with the grade),
`related_group` (questions asking the same thing: a quiz draws one of a group) and
`original_answer` (the source document's wording, kept when an answer was rewritten).
`reports` holds learners' flags on questions and editors' resolutions; a learner has at
most one open report per question (a partial unique index).
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_content"
down_revision = "0007_grading"
branch_labels = None
depends_on = None

# DDL frozen as applied at this revision (not imported from api).
QUESTION_COLUMNS = [
    "ALTER TABLE questions ADD COLUMN explanations JSON",
    "ALTER TABLE questions ADD COLUMN related_group VARCHAR(64)",
    "ALTER TABLE questions ADD COLUMN original_answer TEXT",
    "CREATE INDEX ix_questions_related_group ON questions (related_group)",
]
REPORTS = {
    "sqlite": [
        """CREATE TABLE reports (
	id INTEGER NOT NULL,
	question_id INTEGER NOT NULL,
	user_id INTEGER NOT NULL,
	reason VARCHAR(16) NOT NULL,
	comment TEXT NOT NULL,
	status VARCHAR(16) NOT NULL,
	resolution_note TEXT,
	resolved_by INTEGER,
	created_at DATETIME NOT NULL,
	resolved_at DATETIME,
	CONSTRAINT pk_reports PRIMARY KEY (id),
	CONSTRAINT ck_reports_reason_allowed CHECK (reason IN ('incorrect', 'outdated', 'ambiguous', 'typo', 'other')),
	CONSTRAINT ck_reports_status_allowed CHECK (status IN ('open', 'resolved', 'dismissed')),
	CONSTRAINT fk_reports_question_id_questions FOREIGN KEY(question_id) REFERENCES questions (id) ON DELETE CASCADE,
	CONSTRAINT fk_reports_user_id_users FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE,
	CONSTRAINT fk_reports_resolved_by_users FOREIGN KEY(resolved_by) REFERENCES users (id) ON DELETE SET NULL
)""",
        """CREATE INDEX ix_reports_question_id_status ON reports (question_id, status)""",
        """CREATE INDEX ix_reports_status_id ON reports (status, id)""",
        """CREATE UNIQUE INDEX uq_reports_open_user_question ON reports (user_id, question_id) WHERE status = 'open'""",
    ],
    "postgresql": [
        """CREATE TABLE reports (
	id SERIAL NOT NULL,
	question_id INTEGER NOT NULL,
	user_id INTEGER NOT NULL,
	reason VARCHAR(16) NOT NULL,
	comment TEXT NOT NULL,
	status VARCHAR(16) NOT NULL,
	resolution_note TEXT,
	resolved_by INTEGER,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	resolved_at TIMESTAMP WITH TIME ZONE,
	CONSTRAINT pk_reports PRIMARY KEY (id),
	CONSTRAINT ck_reports_reason_allowed CHECK (reason IN ('incorrect', 'outdated', 'ambiguous', 'typo', 'other')),
	CONSTRAINT ck_reports_status_allowed CHECK (status IN ('open', 'resolved', 'dismissed')),
	CONSTRAINT fk_reports_question_id_questions FOREIGN KEY(question_id) REFERENCES questions (id) ON DELETE CASCADE,
	CONSTRAINT fk_reports_user_id_users FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE,
	CONSTRAINT fk_reports_resolved_by_users FOREIGN KEY(resolved_by) REFERENCES users (id) ON DELETE SET NULL
)""",
        """CREATE INDEX ix_reports_question_id_status ON reports (question_id, status)""",
        """CREATE INDEX ix_reports_status_id ON reports (status, id)""",
        """CREATE UNIQUE INDEX uq_reports_open_user_question ON reports (user_id, question_id) WHERE status = 'open'""",
    ],
}


def upgrade():
    for statement in QUESTION_COLUMNS + REPORTS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade():
    op.execute("DROP TABLE reports")
    op.execute("DROP INDEX ix_questions_related_group")
    for column in ("original_answer", "related_group", "explanations"):
        op.execute(f"ALTER TABLE questions DROP COLUMN {column}")
