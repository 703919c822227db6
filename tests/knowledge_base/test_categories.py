"""Categories: admins create and re-nest them (one level deep), every change is logged;
everyone else is refused and nothing changes."""

from __future__ import annotations

from sqlalchemy import select

from models import KnowledgeBaseChange
from tests.conftest import Stack
from tests.knowledge_base.conftest import People
from tests.knowledge_base.helpers import (
    CREATE_CATEGORY,
    LIST,
    UPDATE,
    UPDATE_CATEGORY,
    call,
    gid,
    kb_state,
    ok,
    write_article,
)


def codes(body: dict, root: str) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in body["data"][root]["userErrors"]]


async def test_admins_build_a_one_level_tree(db: Stack, people: People) -> None:
    admin = people.admin.user_id
    account = (await ok(db, admin, CREATE_CATEGORY, input={"name": "Account"}))["category"]
    security = (
        await ok(db, admin, CREATE_CATEGORY, input={"name": "Security", "parentId": account["id"]})
    )["category"]
    assert account["slug"] == "account"
    assert security["parent"] == {"name": "Account"}
    before = await kb_state(db)

    refusals = [
        (
            admin,
            CREATE_CATEGORY,
            {"name": "Deep", "parentId": security["id"]},
            "parentId",
            "INVALID",
        ),
        (
            admin,
            UPDATE_CATEGORY,
            {"id": account["id"], "parentId": security["id"]},
            "parentId",
            "INVALID",
        ),
        (admin, CREATE_CATEGORY, {"name": "Account"}, "slug", "DUPLICATE"),
        (admin, CREATE_CATEGORY, {"name": ""}, "name", "REQUIRED"),
        (admin, CREATE_CATEGORY, {"name": "x", "slug": "Bad Slug"}, "slug", "INVALID"),
        (admin, CREATE_CATEGORY, {"name": "x", "position": -1}, "position", "INVALID"),
        (people.agent.user_id, CREATE_CATEGORY, {"name": "Mine"}, None, "FORBIDDEN"),
        (people.customer.user_id, CREATE_CATEGORY, {"name": "Mine"}, None, "FORBIDDEN"),
        (
            people.other_agent.user_id,
            UPDATE_CATEGORY,
            {"id": account["id"], "name": "x"},
            None,
            "FORBIDDEN",
        ),
    ]
    for who, document, values, field, code in refusals:
        body = await call(db, who, document, input=values)
        root = (
            "createKnowledgeBaseCategory"
            if document is CREATE_CATEGORY
            else "updateKnowledgeBaseCategory"
        )
        assert body["data"][root]["category"] is None, values
        assert codes(body, root) == [(field, code)], values
    assert await kb_state(db) == before

    moved = await ok(db, admin, UPDATE_CATEGORY, input={"id": security["id"], "parentId": None})
    assert moved["category"]["parent"] is None
    async with db.sessionmaker() as session:
        log = list(
            await session.scalars(select(KnowledgeBaseChange).order_by(KnowledgeBaseChange.id))
        )
    assert [(c.action.value, c.changed_fields) for c in log][-1] == (
        "category_updated",
        ["parentId"],
    )


async def test_articles_move_between_categories(db: Stack, people: People) -> None:
    admin = people.admin.user_id
    first = (await ok(db, admin, CREATE_CATEGORY, input={"name": "First"}))["category"]
    second = (await ok(db, admin, CREATE_CATEGORY, input={"name": "Second"}))["category"]
    article = await write_article(
        db, people.agent.user_id, title="Mover", categoryId=first["id"], publish=True
    )

    moved = await ok(
        db, people.agent.user_id, UPDATE, input={"id": article["id"], "categoryId": second["id"]}
    )

    assert moved["article"]["category"] == {"name": "Second"}
    org = gid("Organization", people.org.id)
    in_first = await ok(db, None, LIST, org=org, filter={"categoryId": first["id"]})
    in_second = await ok(db, None, LIST, org=org, filter={"categoryId": second["id"]})
    assert in_first["articles"]["totalCount"] == 0
    assert in_second["articles"]["totalCount"] == 1
    foreign = await call(
        db,
        people.other_agent.user_id,
        UPDATE,
        input={"id": article["id"], "categoryId": first["id"]},
    )
    assert codes(foreign, "updateArticle") == [("id", "NOT_FOUND")]
