"""knowledgeBaseEvents: staff of the organization receive its article changes live; others
are refused or receive nothing of it; resuming with `after` is gapless, also after
concurrent writers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from subscriptions.knowledge_base import notifier
from tests.conftest import Stack
from tests.knowledge_base.conftest import People
from tests.knowledge_base.helpers import PUBLISH, UPDATE, ok, write_article
from tests.ws import GraphQLWebSocket, serving, wait_until

EVENTS = """
subscription($after: String) {
  knowledgeBaseEvents(after: $after) { cursor action changedFields article { title state } }
}
"""


@pytest.fixture
async def ws_url(db: Stack) -> AsyncIterator[str]:
    async with serving(db.app) as url:
        yield url


async def listening(count: int, *orgs: int) -> None:
    """Until `count` subscribers of these organizations listen (the notifier serves every app
    of the process, so only these organizations' subscribers are counted)."""
    await wait_until(lambda: sum(notifier.waiting_for(org) for org in orgs) == count)


async def test_staff_receive_their_organizations_changes(
    db: Stack, people: People, ws_url: str
) -> None:
    async with (
        GraphQLWebSocket.connect(ws_url, db.token(people.admin.user_id)) as staff,
        GraphQLWebSocket.connect(ws_url, db.token(people.other_agent.user_id)) as other,
    ):
        await staff.subscribe(EVENTS)
        await other.subscribe(EVENTS)
        await listening(2, people.org.id, people.other_org.id)

        article = await write_article(db, people.agent.user_id, title="Fresh guide")
        await ok(db, people.agent.user_id, PUBLISH, id=article["id"])
        await ok(db, people.agent.user_id, UPDATE, input={"id": article["id"], "title": "Renamed"})
        await write_article(db, people.other_agent.user_id, title="Globex only")

        got = [(await staff.next_data())["data"]["knowledgeBaseEvents"] for _ in range(3)]
        assert [e["action"] for e in got] == ["CREATED", "PUBLISHED", "UPDATED"]
        assert got[2]["changedFields"] == ["title"]
        assert got[2]["article"] == {"title": "Renamed", "state": "PUBLISHED"}
        theirs = (await other.next_data())["data"]["knowledgeBaseEvents"]
        assert theirs["article"]["title"] == "Globex only"
        await staff.nothing_for(0.3)


@pytest.mark.parametrize("who", ["customer", "anonymous"])
async def test_readers_may_not_subscribe(db: Stack, people: People, ws_url: str, who: str) -> None:
    token = db.token(people.customer.user_id) if who == "customer" else None
    async with GraphQLWebSocket.connect(ws_url, token) as socket:
        await socket.subscribe(EVENTS)
        message = await socket.receive()
    assert message["type"] == "error", message
    codes = [e["extensions"]["code"] for e in message["payload"]]
    assert codes == (["FORBIDDEN"] if who == "customer" else ["UNAUTHENTICATED"]), message


async def test_resuming_after_a_cursor_misses_nothing_written_concurrently(
    db: Stack, people: People, ws_url: str
) -> None:
    first = await write_article(db, people.agent.user_id, title="Start")
    async with GraphQLWebSocket.connect(ws_url, db.token(people.admin.user_id)) as socket:
        await socket.subscribe(EVENTS)
        await listening(1, people.org.id)
        await ok(db, people.agent.user_id, UPDATE, input={"id": first["id"], "body": "b"})
        cursor = (await socket.next_data())["data"]["knowledgeBaseEvents"]["cursor"]
        # Ten writers at once while the subscriber is live: it must receive all ten (a
        # change committed after a later one must not be skipped).
        writers = [people.agent.user_id, people.admin.user_id] * 5
        await asyncio.gather(
            *(write_article(db, who, title=f"Concurrent {n}") for n, who in enumerate(writers))
        )
        seen_live = [(await socket.next_data())["data"]["knowledgeBaseEvents"] for _ in range(10)]
    # The first subscription is gone before the second one starts.
    await listening(0, people.org.id)
    assert {e["article"]["title"] for e in seen_live} == {f"Concurrent {n}" for n in range(10)}

    async with GraphQLWebSocket.connect(ws_url, db.token(people.agent.user_id)) as socket:
        await socket.subscribe(EVENTS, {"after": cursor})
        replayed = [(await socket.next_data())["data"]["knowledgeBaseEvents"] for _ in range(10)]
        await listening(1, people.org.id)
        await write_article(db, people.admin.user_id, title="Live again")
        live = (await socket.next_data())["data"]["knowledgeBaseEvents"]

    cursors = [int(e["cursor"]) for e in replayed]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == 10
    assert {e["article"]["title"] for e in replayed} == {f"Concurrent {n}" for n in range(10)}
    assert live["article"]["title"] == "Live again"
    assert int(live["cursor"]) > cursors[-1]


async def test_a_cursor_of_another_organization_is_refused(
    db: Stack, people: People, ws_url: str
) -> None:
    await write_article(db, people.other_agent.user_id, title="Theirs")
    async with GraphQLWebSocket.connect(ws_url, db.token(people.agent.user_id)) as socket:
        await socket.subscribe(EVENTS, {"after": "1"})
        message = await socket.receive()
    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], message
