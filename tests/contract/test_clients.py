"""Clients generated from openapi.yaml are first-class (issue 15): the contract is tested
by generating them.

openapi-python-client generates every operation without a warning (with the settings in
clients/openapi-python-client.yaml), and the generated package drives a real gunicorn on
SQLite and PostgreSQL: a learner reads answers with `include=answer` as typed fields and
finishes a quiz (its 200 parsed), an admin makes an editor, and the editor creates a
question and dry-runs imports, JSON and plain text.

openapi-typescript's types (with `--default-non-nullable=false`: a field with a `default`
may be left out of a request, which its default of `true` forbids even for request
bodies) make `tsc --strict` accept what a frontend naturally writes with openapi-fetch
(tests/contract/typescript/valid.ts) and refuse each invalid body of its own file there.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.accounts import DEFAULT_PASSWORD, new_email
from tests.support.apps import SEED_QUESTIONS
from tests.support.live import BIN, ROOT, app_env, flask_cli, serve
from tests.support.node import node_tool, run

SPEC = ROOT / "openapi.yaml"
PYTHON_CONFIG = ROOT / "clients" / "openapi-python-client.yaml"
PACKAGE = "qbank_generated_client"  # a name nothing else imports
ADMIN_EMAIL = "clients-admin@example.com"
ADMIN_PASSWORD = "grey tabby purrs on the warm windowsill"
GENERATE_TIMEOUT = 300  # seconds; the generator formats ~300 files with ruff
TYPESCRIPT = Path(__file__).parent / "typescript"
# The options the TypeScript types are generated with (the README says why).
OPENAPI_TYPESCRIPT_OPTIONS = ("--default-non-nullable=false",)
# Each invalid body, its file and what tsc says of it: where (line, column), and words of
# the error that say what is wrong. None is refused for a field it lacks but the one named.
INVALID_BODIES = {
    # At `self_rating` (its column), given beside `answer`.
    "invalid-attempt-two-ways.ts": ((9, 48), "TS2322", "self_rating"),
    "invalid-password-without-current.ts": ((8, 3), "TS2322", "'current_password' is missing"),
    "invalid-topic-without-slug.ts": ((7, 51), "TS2322", "'slug' is missing"),
}


def generate_python_client(out: Path) -> str:
    """Run openapi-python-client on the contract; its whole output (stdout and stderr)."""
    result = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(SPEC),
            "--config",
            str(PYTHON_CONFIG),
            "--meta",
            "none",
            "--output-path",
            PACKAGE,
        ],
        cwd=out,
        # Its post-hooks run ruff, from this virtualenv.
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Iterator[tuple[ModuleType, str]]:
    """The generated package, imported, and what the generator printed."""
    out = tmp_path_factory.mktemp("python-client")
    output = generate_python_client(out)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE), output
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_python_client_generates_every_operation_without_a_warning(generated):
    package, output = generated
    # Everything it prints beyond its first line is a warning or an error: an operation,
    # a response or a schema it left out.
    assert output.strip() == f"Generating {PACKAGE}", output
    api = Path(package.__file__).parent / "api"
    modules = {p.stem for p in api.glob("*/*.py") if p.stem != "__init__"}
    import yaml

    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    operation_ids = {
        op["operationId"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    }
    snake = {"".join(f"_{c.lower()}" if c.isupper() else c for c in o) for o in operation_ids}
    assert snake <= modules, sorted(snake - modules)


@pytest.fixture()
def live(backend, database_factory, tmp_path) -> Iterator[str]:
    """A migrated, seeded bank with an admin, served by gunicorn on loopback."""
    env = app_env(
        database_factory(backend, "qbank_clients"),
        tmp_path,
        QBANK_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    flask_cli(env, "db", "upgrade")
    assert f"created {SEED_QUESTIONS}" in flask_cli(env, "seed")
    assert "created admin" in flask_cli(env, "create-admin", ADMIN_EMAIL)
    with serve(env) as server:
        yield server.base


def _sign_in(package: ModuleType, base: str, email: str, password: str):
    from_api = importlib.import_module(f"{PACKAGE}.api.auth.login")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = package.Client(base_url=base, raise_on_unexpected_status=True)
    session = from_api.sync(client=client, body=models.Credentials(email=email, password=password))
    assert isinstance(session, models.Session), session
    return session, package.AuthenticatedClient(
        base_url=base, token=session.access_token, raise_on_unexpected_status=True
    )


def test_python_client_flow_against_gunicorn(generated, live):
    package, _ = generated
    base = live

    def api(name: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.api.{name}")

    m = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    anonymous = package.Client(base_url=base, raise_on_unexpected_status=True)

    # A learner registers and signs in.
    email = new_email("client")
    registered = api("auth.register").sync(
        client=anonymous, body=m.Registration(email=email, password=DEFAULT_PASSWORD)
    )
    assert isinstance(registered, m.Session), registered
    _, learner = _sign_in(package, base, email, DEFAULT_PASSWORD)

    # Questions are listed without answers; one read with include=answer has them, typed.
    page = api("questions.list_questions").sync(client=anonymous, per_page=5)
    assert isinstance(page, m.QuestionPage), page
    assert len(page.data) == 5
    assert all(isinstance(q.answer, types.Unset) for q in page.data)
    with_answers = api("questions.list_questions").sync(
        client=anonymous, per_page=5, include=[m.ListQuestionsIncludeItem.ANSWER]
    )
    assert all(isinstance(q.answer, str) and q.answer for q in with_answers.data)
    first = page.data[0]
    plain = api("questions.get_question").sync(first.id, client=anonymous)
    assert isinstance(plain, m.Question) and isinstance(plain.answer, types.Unset)
    question = api("questions.get_question").sync(
        first.id, client=learner, include=[m.GetQuestionIncludeItem.ANSWER]
    )
    assert isinstance(question, m.Question), question
    assert question.id == first.id and question.prompt == first.prompt
    # Topics come typed with the name to show (`TopicRef`), not as bare slugs.
    assert isinstance(first.topics[0], m.TopicRef) and first.topics[0].name
    assert isinstance(question.answer, str) and question.answer
    assert isinstance(question.key_points, list)
    assert all(isinstance(p, m.KeyPoint) and p.text for p in question.key_points)
    assert question.note is None or isinstance(question.note, str)
    assert not isinstance(question.correct_choices, types.Unset)

    # A quiz: started, answered, finished (the 200 parsed into a Quiz).
    quiz = api("practice.start_quiz").sync(client=learner, body=m.QuizIn(count=3))
    assert isinstance(quiz, m.Quiz), quiz
    assert quiz.finished_at is None and len(quiz.questions) == 3
    asked = quiz.questions[0]
    reply = api("practice.answer_question").sync(
        asked.id,
        client=learner,
        body=m.SelfRatingAttemptIn(self_rating=m.SelfRating.GOOD, quiz_id=quiz.id),
    )
    assert isinstance(reply, m.AttemptReply), reply
    assert reply.kind == m.AttemptKind.SELF_RATING and reply.quiz_id == quiz.id
    finished = api("practice.finish_quiz").sync(quiz.id, client=learner)
    assert isinstance(finished, m.Quiz), finished
    assert finished.id == quiz.id and finished.finished_at is not None
    assert finished.progress.overall.answered == 1

    # The admin makes a second account an editor.
    _, admin = _sign_in(package, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    editor_email = new_email("client-editor")
    account = api("auth.register").sync(
        client=anonymous, body=m.Registration(email=editor_email, password=DEFAULT_PASSWORD)
    )
    promoted = api("users.update_user").sync(
        account.user.id, client=admin, body=m.UserUpdate(role=m.Role.EDITOR)
    )
    assert isinstance(promoted, m.User) and promoted.role == m.Role.EDITOR
    _, editor = _sign_in(package, base, editor_email, DEFAULT_PASSWORD)

    # The editor creates a question, then dry-runs imports.
    total = api("questions.list_questions").sync(client=anonymous, per_page=1).meta.total
    created = api("questions.create_question").sync(
        client=editor,
        body=m.QuestionIn(
            prompt="What does the generated client prove about the contract?",
            answer="That every operation can be called with typed bodies and replies.",
            key_points=["every operation", "typed bodies"],
            topics=[first.topics[0].slug],
        ),
    )
    assert isinstance(created, m.QuestionWithAnswer), created
    assert created.answer.startswith("That every operation") and created.version == 1
    report = api("questions.import_questions").sync(
        client=editor,
        dry_run=True,
        body=m.Bank(
            version=1,
            questions=[
                m.QuestionIn(prompt="What is a dry run?", answer="An import that writes nothing.")
            ],
        ),
    )
    assert isinstance(report, m.ImportReport), report
    assert report.dry_run is True and report.created == 1
    text = "1. What is a plain-text import?\nQuestions and answers, numbered.\n"
    report = api("questions.import_questions").sync(
        client=editor,
        dry_run=True,
        body=types.File(payload=io.BytesIO(text.encode()), mime_type="text/plain"),
    )
    assert isinstance(report, m.ImportReport), report
    assert report.dry_run is True and report.created == 1
    # Nothing of the dry runs was written: the bank holds one question more, the created one.
    after = api("questions.list_questions").sync(client=anonymous, per_page=1)
    assert isinstance(after, m.QuestionPage) and after.meta.total == total + 1


# --------------------------------------------------------------------------- TypeScript


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run(args, cwd, GENERATE_TIMEOUT)


@pytest.fixture(scope="module")
def typescript(tmp_path_factory) -> Path:
    """A directory holding the generated types (schema.d.ts) and the committed .ts files."""
    out = tmp_path_factory.mktemp("typescript")
    generator = node_tool("openapi-typescript")
    result = _run(
        [str(generator), str(SPEC), *OPENAPI_TYPESCRIPT_OPTIONS, "-o", str(out / "schema.d.ts")],
        out,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schema.d.ts" in result.stdout + result.stderr
    for source in TYPESCRIPT.glob("*.ts"):
        (out / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return out


def tsc(directory: Path, file: str) -> subprocess.CompletedProcess:
    """`tsc --strict --noEmit` on one file (tests/contract/typescript/tsconfig.json), with
    the project's node_modules for openapi-fetch."""
    config = directory / f"tsconfig.{file}.json"
    config.write_text(
        json.dumps(
            {
                "extends": str(TYPESCRIPT / "tsconfig.json"),
                "compilerOptions": {"paths": {"*": [str(ROOT / "node_modules" / "*")]}},
                "files": [file],
            }
        ),
        encoding="utf-8",
    )
    return _run(
        [
            str(node_tool("tsc")),
            "--project",
            str(config),
            "--strict",
            "--noEmit",
            "--pretty",
            "false",
        ],
        directory,
    )


def test_typescript_natural_bodies_compile(typescript):
    result = tsc(typescript, "valid.ts")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("file", sorted(INVALID_BODIES))
def test_typescript_invalid_body_does_not_compile(typescript, file):
    (line, column), code, words = INVALID_BODIES[file]
    result = tsc(typescript, file)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{file} compiled"
    errors = [row for row in output.splitlines() if ": error TS" in row]
    # One error, at the body, of the kind expected: not a typo elsewhere in the file, nor a
    # field the body lacks that a natural body leaves out (valid.ts).
    assert len(errors) == 1, output
    assert errors[0].startswith(f"{file}({line},{column}): error {code}:"), output
    # What it reports is what the body does wrong: at the named field, or naming it, and no
    # other field missing.
    at = (TYPESCRIPT / file).read_text().splitlines()[line - 1][column - 1 :]
    assert at.startswith(words) or words in output, output
    missing = re.findall(r"Property '\w+' is missing", output)
    assert all(words in m for m in missing), output
