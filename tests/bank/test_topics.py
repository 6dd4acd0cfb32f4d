"""GET /api/v1/topics, /topics/{slug} and /tags."""

from __future__ import annotations

import pytest
import yaml

from api.cli import DEFAULT_BANK

BANK = yaml.safe_load(DEFAULT_BANK.read_text())


def expected_topic_counts() -> dict[str, int]:
    counts = {t["slug"]: 0 for t in BANK["topics"]}
    for q in BANK["questions"]:
        for slug in q["topics"]:
            counts[slug] += 1
    return counts


def test_topics_with_counts(client):
    response = client.get("/api/v1/topics")
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert {t["slug"]: t["question_count"] for t in data} == expected_topic_counts()
    assert [t["slug"] for t in data] == sorted(t["slug"] for t in data)
    assert response.headers["X-Total-Count"] == str(len(BANK["topics"]))
    assert "ETag" in response.headers
    assert all(t["name"] and "questions_by_difficulty" not in t for t in data)


def test_topics_paging(client):
    response = client.get("/api/v1/topics?per_page=5&page=3")
    assert response.status_code == 200
    assert len(response.get_json()["data"]) == min(5, len(BANK["topics"]) - 10)
    assert 'rel="prev"' in response.headers["Link"]


def test_one_topic_counts_by_difficulty(client):
    response = client.get("/api/v1/topics/databases")
    assert response.status_code == 200
    body = response.get_json()
    assert body["slug"] == "databases"
    assert body["question_count"] == expected_topic_counts()["databases"]
    assert sum(body["questions_by_difficulty"].values()) == body["question_count"]
    assert set(body["questions_by_difficulty"]) == {"easy", "medium", "hard"}
    listed = client.get("/api/v1/questions?topic=databases").headers["X-Total-Count"]
    assert int(listed) == body["question_count"]


def test_unknown_topic_is_404_problem(client):
    response = client.get("/api/v1/topics/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "There is no topic 'nope'."


def test_tags_with_counts(client):
    response = client.get("/api/v1/tags?per_page=100")
    assert response.status_code == 200
    data = response.get_json()["data"]
    data += client.get("/api/v1/tags?per_page=100&page=2").get_json()["data"]
    expected: dict[str, int] = {}
    for q in BANK["questions"]:
        for slug in q["tags"]:
            expected[slug] = expected.get(slug, 0) + 1
    assert {t["slug"]: t["question_count"] for t in data} == expected
    assert response.headers["X-Total-Count"] == str(len(expected))


@pytest.mark.parametrize("sort", ["slug", "-slug", "question_count", "-question_count"])
def test_tags_sorting(client, sort):
    data = client.get(f"/api/v1/tags?per_page=100&sort={sort}").get_json()["data"]
    key = sort.lstrip("-")
    values = [t[key] for t in data]
    assert values == sorted(values, reverse=sort.startswith("-"))


def test_tag_filter_agrees_with_tag_counts(client):
    top = client.get("/api/v1/tags?sort=-question_count&per_page=1").get_json()["data"][0]
    total = client.get(f"/api/v1/questions?tag={top['slug']}").headers["X-Total-Count"]
    assert int(total) == top["question_count"]


@pytest.mark.parametrize("url", ["/api/v1/tags?sort=name", "/api/v1/topics?per_page=500"])
def test_bad_list_arguments(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
