"""Filters of the article list (tags, state) and the search language setting."""

from __future__ import annotations

import pytest

from server.settings import Settings
from tests.conftest import Stack
from tests.graphql import execute
from tests.knowledge_base.conftest import People
from tests.knowledge_base.helpers import LIST, gid, ok, write_article


async def test_tags_and_states_narrow_the_list(db: Stack, people: People) -> None:
    agent = people.agent.user_id
    await write_article(db, agent, title="A", tags=["printer", "setup"], publish=True)
    await write_article(db, agent, title="B", tags=["printer"], publish=True)
    await write_article(db, agent, title="C", tags=["billing"])
    org = gid("Organization", people.org.id)

    async def titles(subject: str | None, **filters: object) -> list[str]:
        data = await ok(db, subject, LIST, org=org, filter=filters)
        return sorted(e["node"]["title"] for e in data["articles"]["edges"])

    assert await titles(None, tags=["printer"]) == ["A", "B"]
    assert await titles(None, tags=["printer", "setup"]) == ["A"]
    assert await titles(None, tags=["Printer "]) == ["A", "B"]
    assert await titles(None, tags=["billing"]) == []
    assert await titles(agent, tags=["billing"]) == ["C"]
    assert await titles(agent, state=["DRAFT"]) == ["C"]
    assert await titles(None, state=["DRAFT"]) == []


async def test_the_search_language_is_a_setting(db: Stack, people: People) -> None:
    await write_article(db, people.agent.user_id, title="Printers", body="Printing", publish=True)
    query = {"org": gid("Organization", people.org.id), "filter": {"search": "printer"}}

    english = await ok(db, None, LIST, **query)
    async with db.variant(knowledge_base_language="simple") as app, db.client(app=app) as client:
        simple = (await execute(client, LIST, query))["data"]["knowledgeBase"]

    # English stems "printers" to "printer"; PostgreSQL's "simple" configuration does not.
    # SQLite's FTS5 stems with Porter whatever the setting (it is PostgreSQL's).
    assert english["articles"]["totalCount"] == 1
    assert simple["articles"]["totalCount"] == (0 if db.backend.is_postgres else 1)


@pytest.mark.parametrize("value", ["english; drop table x", "", "x" * 64, "Eng-lish"])
def test_a_language_that_is_not_a_configuration_name_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="KNOWLEDGE_BASE_LANGUAGE"):
        Settings.from_env({"KNOWLEDGE_BASE_LANGUAGE": value})


def test_the_language_defaults_to_english_and_is_read() -> None:
    assert Settings.from_env({}).knowledge_base_language == "english"
    assert Settings.from_env({"KNOWLEDGE_BASE_LANGUAGE": "German"}).knowledge_base_language == (
        "german"
    )
