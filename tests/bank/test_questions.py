"""GET /api/v1/questions, /questions/{id} and /questions/random on the seeded bank."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.bank.schemas import ANSWER_FIELDS
from api.extensions import db
from tests.support.apps import SEED_OPEN, SEED_QUESTIONS, QueryCounter, slugs, temporary_app

PAGES = -(-SEED_QUESTIONS // 10)
URL = "/api/v1/questions"


def ids(response) -> list[int]:
    return [q["id"] for q in response.get_json()["data"]]


def every_id(client, query: str) -> list[int]:
    """The ids of every matching question, page after page."""
    found: list[int] = []
    page = 1
    while True:
        response = client.get(f"{URL}?{query}&per_page=100&page={page}")
        found += ids(response)
        if len(found) >= int(response.headers["X-Total-Count"]):
            return found
        page += 1


def test_list_is_paged_with_headers(client):
    response = client.get(f"{URL}?per_page=10&page=2")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["meta"] == {"page": 2, "per_page": 10, "total": SEED_QUESTIONS, "pages": PAGES}
    assert len(body["data"]) == 10
    assert response.headers["X-Total-Count"] == str(SEED_QUESTIONS)
    link = response.headers["Link"]
    for rel, page in (("first", 1), ("prev", 1), ("next", 3), ("last", PAGES)):
        assert f'page={page}&per_page=10>; rel="{rel}"' in link
    assert ids(response) == sorted(ids(response))


def test_link_keeps_the_filters(client):
    response = client.get(f"{URL}?topic=routing&per_page=2")
    assert response.status_code == 200
    assert "topic=routing&page=2&per_page=2" in response.headers["Link"]


def test_page_past_the_end_is_empty_not_an_error(client):
    response = client.get(f"{URL}?page=99")
    assert response.status_code == 200
    assert response.get_json()["data"] == []
    assert 'rel="prev"' in response.headers["Link"]
    assert 'rel="next"' not in response.headers["Link"]


def test_answers_hidden_unless_asked(client):
    plain = client.get(f"{URL}?per_page=100").get_json()["data"]
    assert all(not set(ANSWER_FIELDS) & set(q) for q in plain)
    full = client.get(f"{URL}?per_page=100&include=answer").get_json()["data"]
    assert all(set(ANSWER_FIELDS) <= set(q) for q in full)
    assert all(q["answer"] and q["key_points"] for q in full)


def test_filter_by_topic_tag_difficulty_type(client):
    routing = client.get(f"{URL}?topic=routing&per_page=100").get_json()["data"]
    assert routing and all("routing" in slugs(q["topics"]) for q in routing)
    tagged = client.get(f"{URL}?tag=blueprints&per_page=100").get_json()["data"]
    assert tagged and all("blueprints" in slugs(q["tags"]) for q in tagged)
    medium = client.get(f"{URL}?difficulty=medium&per_page=100").get_json()["data"]
    assert medium and all(q["difficulty"] == "medium" for q in medium)
    both = client.get(f"{URL}?difficulty=easy,hard&per_page=100").get_json()["data"]
    assert {q["difficulty"] for q in both} == {"easy", "hard"}
    repeated = client.get(f"{URL}?difficulty=easy&difficulty=hard&per_page=100").get_json()
    assert [q["id"] for q in repeated["data"]] == [q["id"] for q in both]
    choice = client.get(f"{URL}?type=multiple_choice&per_page=100").get_json()["data"]
    assert choice and all(q["type"] == "multiple_choice" for q in choice)
    assert int(client.get(f"{URL}?type=open").headers["X-Total-Count"]) == SEED_OPEN


def test_unknown_topic_filter_matches_nothing(client):
    response = client.get(f"{URL}?topic=no-such-topic")
    assert response.status_code == 200
    assert response.get_json()["data"] == []
    assert response.headers["X-Total-Count"] == "0"


def test_exclude_and_updated_since(client):
    first = ids(client.get(f"{URL}?per_page=3"))
    rest = ids(client.get(f"{URL}?per_page=3&exclude={','.join(map(str, first))}"))
    assert not set(first) & set(rest)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = client.get(URL, query_string={"updated_since": future})
    assert response.status_code == 200 and response.get_json()["data"] == []
    past = client.get(URL, query_string={"updated_since": "2000-01-01T00:00:00Z"})
    assert past.headers["X-Total-Count"] == str(SEED_QUESTIONS)


@pytest.mark.parametrize("sort", ["id", "-id", "created_at", "-updated_at", "difficulty"])
def test_sorting(client, sort):
    data = client.get(f"{URL}?sort={sort}&per_page=100&include=answer").get_json()["data"]
    key = sort.lstrip("-")
    rank = {"easy": 1, "medium": 2, "hard": 3}
    values = [(rank[q[key]] if key == "difficulty" else q[key], q["id"]) for q in data]
    expected = sorted(values, reverse=sort.startswith("-"))
    assert values == expected


def test_search_ranks_by_relevance(client):
    response = client.get(f"{URL}?q=blueprints")
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data, "blueprint questions exist in the seed bank"
    assert "blueprint" in data[0]["prompt"].lower()


def test_search_is_stemmed_case_insensitive_and_prefix(client):
    stemmed = ids(client.get(f"{URL}?q=MIGRATIONS&per_page=100"))
    base = ids(client.get(f"{URL}?q=migration&per_page=100"))
    assert stemmed and set(stemmed) == set(base)
    prefix = ids(client.get(f"{URL}?q=migra&per_page=100"))
    assert set(base) <= set(prefix)


def test_search_finds_alternate_phrasings(client):
    data = client.get(f"{URL}?q=why would you choose it over Django").get_json()["data"]
    assert any("Django" in " ".join(q["alternate_prompts"]) for q in data)


def test_search_combines_with_filters_and_sort(client):
    all_hits = every_id(client, "q=flask")
    routing = client.get(f"{URL}?q=flask&topic=routing&sort=id&per_page=100").get_json()["data"]
    assert routing and all("routing" in slugs(q["topics"]) for q in routing)
    assert [q["id"] for q in routing] == sorted(q["id"] for q in routing)
    assert {q["id"] for q in routing} <= set(all_hits)


def test_search_with_no_match(client):
    response = client.get(f"{URL}?q=kubernetesoperator")
    assert response.status_code == 200
    assert response.get_json()["data"] == []
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize("q", ['"', "AND OR NOT", "a*b(c)", "'; DROP TABLE questions; --", "é"])
def test_search_syntax_is_never_an_error(client, q):
    response = client.get(URL, query_string={"q": q})
    assert response.status_code == 200
    assert isinstance(response.get_json()["data"], list)


def test_one_question(client):
    response = client.get(f"{URL}/1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == 1
    assert body["prompt"] == "What is Flask?"
    assert body["sources"] == [{"document": "000_becfa4df0abd7808.txt", "position": 1}]
    assert "answer" not in body
    assert body["version"] == 1
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None


def test_one_question_with_answer_keeps_code_block(client):
    data = client.get(f"{URL}?per_page=100&include=answer").get_json()["data"]
    hello = next(q for q in data if any(s["position"] == 9 for s in q["sources"]))
    assert "```python" in hello["answer"]
    assert "    return 'Hello, World!'" in hello["answer"]


def test_merged_question_keeps_both_phrasings_and_sources(client):
    data = client.get(f"{URL}?per_page=100").get_json()["data"]
    merged = [q for q in data if len(q["sources"]) == 2]
    assert len(merged) == 9
    for q in merged:
        assert len(q["alternate_prompts"]) == 1
        assert {s["document"] for s in q["sources"]} == {
            "000_becfa4df0abd7808.txt",
            "003_ae11068e3ef71790.txt",
        }


def test_editorial_notes_correct_outdated_answers(client):
    data = client.get(f"{URL}?per_page=100&include=answer").get_json()["data"]
    by_position = {
        s["position"]: q for q in data for s in q["sources"] if s["document"].startswith("000")
    }
    assert "Flask-JWT-Extended" in by_position[35]["note"]
    assert "Flask-RESTX" in by_position[46]["note"]
    assert "Flask-SQL" in by_position[16]["note"]
    assert "import name" in by_position[7]["note"] or "root path" in by_position[7]["note"]


def test_random_questions_are_distinct_and_filtered(client):
    response = client.get(f"{URL}/random?count=5&topic=databases")
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert len(data) == 5
    assert len({q["id"] for q in data}) == 5
    assert all("databases" in slugs(q["topics"]) for q in data)
    assert all("answer" not in q for q in data)
    assert response.headers["Cache-Control"] == "no-store"


def test_random_count_larger_than_pool_returns_the_pool(client):
    pool = client.get(f"{URL}?topic=templates").headers["X-Total-Count"]
    data = client.get(f"{URL}/random?count=50&topic=templates").get_json()["data"]
    assert len(data) == int(pool)


def test_random_honours_exclude_and_include(client):
    everything = every_id(client, "")
    keep = everything[:2]
    exclude = ",".join(str(i) for i in everything if i not in keep)
    data = client.get(f"{URL}/random?count=5&include=answer&exclude={exclude}").get_json()["data"]
    assert sorted(q["id"] for q in data) == keep
    assert all("answer" in q for q in data)


def test_random_varies(client):
    seen = {tuple(ids(client.get(f"{URL}/random?count=3"))) for _ in range(10)}
    assert len(seen) > 1


@pytest.mark.parametrize(
    "query, field",
    [
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("difficulty=impossible", "difficulty"),
        ("type=essay", "type"),
        ("sort=prompt", "sort"),
        ("updated_since=yesterday", "updated_since"),
        ("exclude=1,x", "exclude"),
        ("topic=Not%20A%20Slug", "topic"),
        ("include=secrets", "include"),
        ("q=" + "x" * 201, "q"),
        ("q=", "q"),
        ("q=a%00b", "q"),
        ("topics=routing", "topics"),
        ("page=1&page=2", "page"),
    ],
)
def test_bad_query_is_400_naming_the_field(client, query, field):
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 400
    assert field in body["errors"]


@pytest.mark.parametrize("query", ["count=0", "count=51", "count=two"])
def test_bad_random_count(client, query):
    response = client.get(f"{URL}/random?{query}")
    assert response.status_code == 400
    assert "count" in response.get_json()["errors"]


def test_unknown_question_is_404(client):
    response = client.get(f"{URL}/99999")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "There is no question 99999."


def test_etag_and_304(client):
    first = client.get(f"{URL}/1")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    assert "no-cache" in first.headers["Cache-Control"]
    again = client.get(f"{URL}/1", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    other = client.get(f"{URL}/1?include=answer", headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["ETag"] != etag


def test_list_etag_changes_with_the_page(client):
    one = client.get(f"{URL}?page=1")
    two = client.get(f"{URL}?page=2")
    assert one.headers["ETag"] != two.headers["ETag"]
    assert (
        client.get(f"{URL}?page=1", headers={"If-None-Match": one.headers["ETag"]}).status_code
        == 304
    )


def test_list_query_count_is_fixed(seeded_url):
    """Rendering a page (a cache miss; a hit runs no query) costs three statements."""
    counts = []
    with temporary_app(seeded_url, RESPONSE_CACHE_MAX_BYTES=0) as app:
        client = app.test_client()
        for per_page in (1, 20, 100):
            with app.app_context():
                counter = QueryCounter(db.engine)
            with counter:
                assert client.get(f"{URL}?per_page={per_page}").status_code == 200
            counts.append(counter.count)
    assert counts == [counts[0]] * 3
    assert counts[0] == 3  # count, page, topic and tag slugs
