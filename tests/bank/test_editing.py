"""Editors' writes: questions and topics, validation, conflicts and optimistic concurrency."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.bank.models import Question, Topic
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into

Q = "/api/v1/questions"
T = "/api/v1/topics"


@pytest.fixture(scope="module")
def bank_app(backend, database_factory):
    """A seeded bank of this module's own: these tests write to it."""
    app = build_app(database_factory(backend, "qbank_editorial"))
    seed_bank_into(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def editor(bank_app):
    return login_headers(bank_app, make_user(bank_app, "editor"))


@pytest.fixture(scope="module")
def learner(bank_app):
    return login_headers(bank_app, make_user(bank_app, "learner"))


@pytest.fixture()
def client(bank_app):
    return bank_app.test_client()


def new_question(**extra) -> dict:
    body = {
        "prompt": "What does `flask shell` give you?",
        "answer": "An interactive Python shell with the application context pushed.",
        "key_points": ["interactive shell", "application context"],
        "difficulty": "easy",
        "topics": ["basics"],
        "tags": ["cli"],
    }
    body.update(extra)
    return body


def count_questions(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Question.id)))


def test_editor_creates_a_question(client, editor):
    response = client.post(Q, json=new_question(), headers=editor)
    assert response.status_code == 201
    body = response.get_json()
    assert body["slug"] == "what-does-flask-shell-give-you"
    assert body["version"] == 1
    assert body["answer"].startswith("An interactive")
    assert response.headers["Location"].endswith(f"{Q}/{body['id']}")
    fetched = client.get(f"{Q}/{body['id']}?include=answer")
    assert fetched.headers["ETag"] == response.headers["ETag"]
    assert client.get(f"{Q}?q=shell").headers["X-Total-Count"] != "0"


def test_derived_slugs_never_collide(client, editor):
    # A twin prompt is a 409 unless allowed (tests/test_nothing_lost.py); allowed here.
    twin = f"{Q}?allow_duplicate=true"
    first = client.post(twin, json=new_question(prompt="Same prompt twice?"), headers=editor)
    second = client.post(twin, json=new_question(prompt="Same prompt twice?"), headers=editor)
    assert first.status_code == second.status_code == 201
    assert second.get_json()["slug"] == first.get_json()["slug"] + "-2"


def test_taken_explicit_slug_is_409(bank_app, client, editor):
    before = count_questions(bank_app)
    response = client.post(Q, json=new_question(slug="what-is-flask"), headers=editor)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {"slug": ["Taken."]}
    assert count_questions(bank_app) == before


@pytest.mark.parametrize(
    "change, field",
    [
        ({"prompt": ""}, "prompt"),
        ({"difficulty": "trivial"}, "difficulty"),
        ({"type": "essay"}, "type"),
        ({"role": "admin"}, "role"),
        ({"id": 1}, "id"),
        ({"version": 9}, "version"),
        ({"type": "multiple_choice"}, "choices"),
        (
            {"type": "multiple_choice", "choices": ["a", "b"], "correct_choices": [5]},
            "correct_choices",
        ),
        ({"type": "true_false", "correct_choices": [0, 1]}, "correct_choices"),
        ({"choices": ["a", "b"]}, "choices"),
        ({"topics": ["Not A Slug"]}, "topics.0"),
        ({"key_points": "one string"}, "key_points"),
        ({"key_points": [5]}, "key_points.0"),
        ({"key_points": [{"alternatives": ["shell"]}]}, "key_points.0.text"),
        ({"key_points": [{"text": ""}]}, "key_points.0.text"),
        ({"key_points": [{"text": "shell", "weight": 2}]}, "key_points.0.weight"),
        (
            {"key_points": [{"text": "shell", "alternatives": ["a", "a"]}]},
            "key_points.0.alternatives",
        ),
        (
            {"key_points": [{"text": "shell", "alternatives": ["x"] * 11}]},
            "key_points.0.alternatives",
        ),
        (
            {"key_points": [{"text": "shell", "contradictions": "no"}]},
            "key_points.0.contradictions",
        ),
        ({"key_points": ["a"] * 21}, "key_points"),
        ({"answer": "x" * 20_001}, "answer"),
    ],
)
def test_invalid_question_is_422_naming_the_field(bank_app, client, editor, change, field):
    before = count_questions(bank_app)
    response = client.post(Q, json=new_question(**change), headers=editor)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert count_questions(bank_app) == before


def test_unknown_topic_is_422_and_changes_nothing(bank_app, client, editor):
    before = count_questions(bank_app)
    response = client.post(Q, json=new_question(topics=["no-such-topic"]), headers=editor)
    assert response.status_code == 422
    assert "topics" in response.get_json()["errors"]
    assert count_questions(bank_app) == before


def test_body_must_be_json_object(client, editor):
    assert client.post(Q, data="prompt=x", headers=editor).status_code == 415
    bad = client.post(Q, data="{", headers={**editor, "Content-Type": "application/json"})
    assert bad.status_code == 400
    assert client.post(Q, json=[1, 2], headers=editor).status_code == 422


def test_choice_questions(client, editor):
    mc = client.post(
        Q,
        json=new_question(
            prompt="Which of these is a Flask extension for forms?",
            type="multiple_choice",
            choices=["Flask-WTF", "Django Forms", "WTForms-Django"],
            correct_choices=[0],
        ),
        headers=editor,
    )
    assert mc.status_code == 201
    public = client.get(f"{Q}/{mc.get_json()['id']}").get_json()
    assert public["choices"] == ["Flask-WTF", "Django Forms", "WTForms-Django"]
    assert "correct_choices" not in public
    tf = client.post(
        Q,
        json=new_question(
            prompt="Flask ships with an ORM: true?", type="true_false", correct_choices=[1]
        ),
        headers=editor,
    )
    assert tf.status_code == 201
    assert tf.get_json()["choices"] == ["True", "False"]


def created(client, editor, **extra) -> tuple[dict, str]:
    response = client.post(Q, json=new_question(**extra), headers=editor)
    assert response.status_code == 201, response.get_json()
    return response.get_json(), response.headers["ETag"]


def test_patch_needs_if_match(client, editor):
    body, _ = created(client, editor, prompt="Patch without If-Match?")
    response = client.patch(f"{Q}/{body['id']}", json={"difficulty": "hard"}, headers=editor)
    assert response.status_code == 428
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PATCH", f"{Q}/999999"),
        ("DELETE", f"{Q}/999999"),
        ("PATCH", "/api/v1/topics/no-such-topic"),
        ("DELETE", "/api/v1/topics/no-such-topic"),
    ],
)
def test_a_write_without_if_match_is_428_whether_or_not_its_target_exists(
    client, editor, assert_problem, method, url
):
    """What the request lacks is said first (the contract run found a 404 here)."""
    response = client.open(url, method=method, json={"difficulty": "hard"}, headers=editor)
    assert_problem(response, 428, "precondition-required")
    with_tag = client.open(url, method=method, json={}, headers={**editor, "If-Match": "*"})
    assert with_tag.status_code == 404


def test_patch_with_stale_etag_is_412_and_changes_nothing(client, editor):
    body, etag = created(client, editor, prompt="Two editors at once?")
    url = f"{Q}/{body['id']}"
    first = client.patch(url, json={"difficulty": "hard"}, headers={**editor, "If-Match": etag})
    assert first.status_code == 200
    stale = client.patch(url, json={"difficulty": "medium"}, headers={**editor, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    assert client.get(f"{url}?include=answer").get_json()["difficulty"] == "hard"


def test_patch_bumps_version_updated_at_and_etags(client, editor):
    body, etag = created(client, editor, prompt="What bumps on a write?")
    url = f"{Q}/{body['id']}"
    public_etag = client.get(url).headers["ETag"]
    topic_etag = client.get(f"{T}/routing").headers["ETag"]
    response = client.patch(
        url,
        json={"tags": ["cli", "versioning"], "topics": ["basics", "routing"]},
        headers={**editor, "If-Match": public_etag},  # either representation's ETag will do
    )
    assert response.status_code == 200
    after = response.get_json()
    assert after["version"] == body["version"] + 1
    assert after["updated_at"] > body["updated_at"]
    assert after["tags"] == [
        {"slug": "cli", "name": "cli"},
        {"slug": "versioning", "name": "versioning"},
    ]
    assert response.headers["ETag"] != etag
    assert client.get(url).headers["ETag"] != public_etag
    assert client.get(f"{T}/routing").headers["ETag"] != topic_etag
    since = client.get(Q, query_string={"updated_since": body["updated_at"], "per_page": 100})
    assert body["id"] in [q["id"] for q in since.get_json()["data"]]


def test_patch_validates_the_merged_question(client, editor):
    body, etag = created(client, editor, prompt="Turn into multiple choice?")
    response = client.patch(
        f"{Q}/{body['id']}", json={"type": "multiple_choice"}, headers={**editor, "If-Match": etag}
    )
    assert response.status_code == 422
    assert "choices" in response.get_json()["errors"]


def test_patch_unknown_field_is_422(client, editor):
    body, etag = created(client, editor, prompt="Mass assignment?")
    response = client.patch(
        f"{Q}/{body['id']}", json={"version": 99}, headers={**editor, "If-Match": etag}
    )
    assert response.status_code == 422
    assert "version" in response.get_json()["errors"]


def test_delete_question(bank_app, client, editor):
    body, etag = created(client, editor, prompt="Delete me?")
    url = f"{Q}/{body['id']}"
    assert client.delete(url, headers=editor).status_code == 428
    assert client.delete(url, headers={**editor, "If-Match": '"nope"'}).status_code == 412
    response = client.delete(url, headers={**editor, "If-Match": etag})
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(url).status_code == 404
    assert client.delete(url, headers={**editor, "If-Match": etag}).status_code == 404


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", Q, new_question()),
        ("patch", f"{Q}/1", {"difficulty": "hard"}),
        ("delete", f"{Q}/1", None),
        ("post", T, {"slug": "x", "name": "X"}),
        ("patch", f"{T}/basics", {"name": "X"}),
        ("delete", f"{T}/basics", None),
        ("post", f"{Q}/import", []),
        ("get", f"{Q}/export", None),
    ],
)
def test_learners_and_anonymous_cannot_write(client, learner, method, path, body):
    kwargs = {"json": body} if body is not None else {}
    anonymous = getattr(client, method)(path, **kwargs)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    refused = getattr(client, method)(path, headers={**learner, "If-Match": "*"}, **kwargs)
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"


def test_topic_lifecycle(bank_app, client, editor):
    response = client.post(
        T,
        json={
            "slug": "profiling",
            "name": "Profiling",
            "description": "cProfile, py-spy and friends.",
        },
        headers=editor,
    )
    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"{T}/profiling")
    etag = response.headers["ETag"]
    assert response.get_json()["question_count"] == 0
    assert (
        client.post(T, json={"slug": "profiling", "name": "Again"}, headers=editor).status_code
        == 409
    )
    renamed = client.patch(
        f"{T}/profiling",
        json={"slug": "profiling-flask", "name": "Profiling Flask apps"},
        headers={**editor, "If-Match": etag},
    )
    assert renamed.status_code == 200
    assert renamed.get_json()["version"] == 2
    assert client.get(f"{T}/profiling").status_code == 404
    stale = client.delete(f"{T}/profiling-flask", headers={**editor, "If-Match": etag})
    assert stale.status_code == 412
    gone = client.delete(
        f"{T}/profiling-flask", headers={**editor, "If-Match": renamed.headers["ETag"]}
    )
    assert gone.status_code == 204
    with bank_app.app_context():
        assert db.session.scalar(select(Topic).where(Topic.slug.like("profiling%"))) is None


def test_topic_rename_to_taken_slug_is_409(client, editor):
    etag = client.get(f"{T}/templates").headers["ETag"]
    response = client.patch(
        f"{T}/templates", json={"slug": "routing"}, headers={**editor, "If-Match": etag}
    )
    assert response.status_code == 409
    assert client.get(f"{T}/templates").status_code == 200


def test_topic_with_questions_cannot_be_deleted(client, editor):
    etag = client.get(f"{T}/routing").headers["ETag"]
    response = client.delete(f"{T}/routing", headers={**editor, "If-Match": etag})
    assert response.status_code == 409
    assert response.get_json()["question_count"] > 0
    assert client.get(f"{T}/routing").status_code == 200


def test_invalid_topic_is_422(client, editor):
    response = client.post(T, json={"slug": "Bad Slug", "name": ""}, headers=editor)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"slug", "name"}


def test_key_points_with_alternatives_and_contradictions(client, editor):
    points = [
        "interactive shell",
        {"text": "application context", "alternatives": ["app context pushed"]},
        {"text": "app and db in scope", "contradictions": ["starts the server"]},
    ]
    body = new_question(
        prompt="What does the `flask shell` command put in scope?", key_points=points
    )
    created = client.post(Q, json=body, headers=editor)
    assert created.status_code == 201, created.get_json()
    qid = created.get_json()["id"]
    stored = client.get(f"{Q}/{qid}", query_string={"include": "answer"}).get_json()
    assert stored["key_points"] == [
        {"text": "interactive shell", "alternatives": [], "contradictions": []},
        {
            "text": "application context",
            "alternatives": ["app context pushed"],
            "contradictions": [],
        },
        {
            "text": "app and db in scope",
            "alternatives": [],
            "contradictions": ["starts the server"],
        },
    ]
    # editable like any field, and what is read back can be written back as it is
    etag = client.get(f"{Q}/{qid}").headers["ETag"]
    changed = stored["key_points"][:2]
    changed[0] = {**changed[0], "alternatives": ["a Python REPL"]}
    patched = client.patch(
        f"{Q}/{qid}", json={"key_points": changed}, headers={**editor, "If-Match": etag}
    )
    assert patched.status_code == 200, patched.get_json()
    again = client.get(f"{Q}/{qid}", query_string={"include": "answer"}).get_json()
    assert again["key_points"] == changed


# --------------------------------------------------------------------------- slug allocation


class _CountingSet(set):
    """A set that counts membership tests: the allocator's probes."""

    probes = 0

    def __contains__(self, item) -> bool:
        type(self).probes += 1
        return super().__contains__(item)


def test_slug_allocation_does_not_probe_suffixes_one_by_one():
    """Was quadratic: a new allocator (one per POST /questions) tried -2, -3, ... in turn,
    so the n-th question named alike cost n probes."""
    from api.bank.slugs import SlugAllocator

    taken = ["what-is-flask", *(f"what-is-flask-{n}" for n in range(2, 501))]
    for n in range(501, 601):
        allocator = SlugAllocator(taken)
        allocator.taken = _CountingSet(allocator.taken)
        _CountingSet.probes = 0
        taken.append(allocator.allocate("what-is-flask"))
        assert taken[-1] == f"what-is-flask-{n}"
        assert _CountingSet.probes <= 2
    allocator = SlugAllocator(taken)
    assert [allocator.allocate("what-is-flask") for _ in range(3)] == [
        "what-is-flask-601",
        "what-is-flask-602",
        "what-is-flask-603",
    ]
    fresh = SlugAllocator(["a-2", "a-07", "a-x"])
    assert [fresh.allocate("a") for _ in range(3)] == ["a", "a-8", "a-9"]
    fresh.take(["a-20"])  # an explicit slug of a later batch
    assert fresh.allocate("a") == "a-21"
    assert fresh.allocate("a-21") == "a-21-2"


PARTIAL = {
    "prompt": "Which of these run a Flask app in production?",
    "type": "multiple_choice",
    "choices": ["gunicorn", "uWSGI", "flask run", "python app.py"],
    "correct_choices": [0, 1],
}


@pytest.mark.parametrize(
    ("weights", "error"),
    [
        ([50, 50, -100, 0], None),
        ([100, 100, 0, 0], "together 100"),
        ([50, 50, 0], "one weight per choice"),
        ([60, 40, 0, 101], "Must be greater than or equal to -100 and less than or equal to 100."),
        ([0, 100, 0, 0], "together 100"),
    ],
)
def test_choice_weights_must_agree_with_the_correct_choices(client, editor, weights, error):
    response = client.post(Q, json=new_question(**PARTIAL, choice_weights=weights), headers=editor)
    if error is None:
        assert response.status_code == 201, response.get_json()
        shown = client.get(f"{Q}/{response.get_json()['id']}?include=answer").get_json()
        assert shown["choice_weights"] == [50, 50, -100, 0]
        assert "choice_weights" not in client.get(f"{Q}/{shown['id']}").get_json()
        return
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert error in str([v for k, v in errors.items() if k.startswith("choice_weights")])


def test_only_multiple_choice_questions_have_weights(client, editor):
    response = client.post(
        Q,
        json=new_question(
            prompt="Flask ships with an ORM: true?",
            type="true_false",
            correct_choices=[1],
            choice_weights=[0, 100],
        ),
        headers=editor,
    )
    assert response.status_code == 422
    assert "Only multiple-choice" in str(response.get_json()["errors"]["choice_weights"])


def test_random_draws_serve_an_edit_at_once(client, editor):
    """Draws render each question once per worker and bank version: a question drawn
    before an edit is drawn with the edit after it, with and without its answer."""
    client.post(f"{T}", json={"slug": "drawn", "name": "Drawn"}, headers=editor)
    body, etag = created(client, editor, prompt="Which question is drawn here?", topics=["drawn"])
    for include in ("", "&include=answer"):
        url = f"{Q}/random?topic=drawn&count=5{include}"
        first = client.get(url).get_json()["data"]
        assert [q["id"] for q in first] == [body["id"]]
        assert client.get(url).get_json()["data"] == first  # drawn again: the same render
    patched = client.patch(
        f"{Q}/{body['id']}",
        json={"prompt": "Which question was edited here?", "answer": "This one."},
        headers={**editor, "If-Match": etag},
    )
    assert patched.status_code == 200
    public = client.get(f"{Q}/random?topic=drawn&count=5").get_json()["data"]
    assert public[0]["prompt"] == "Which question was edited here?" and "answer" not in public[0]
    full = client.get(f"{Q}/random?topic=drawn&count=5&include=answer").get_json()["data"]
    assert full[0]["answer"] == "This one." and full[0]["version"] == patched.get_json()["version"]
