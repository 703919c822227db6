"""The permission matrix of the knowledge base: every new operation and field, one outcome per
identity (same columns, outcomes and checks as tests/security/test_permission_matrix.py).

Readers (anonymous, customers) and staff of another organization see published public
articles of every PUBLIC organization; of an INVITE_ONLY one (`InviteOnlyReads`: other_org
made INVITE_ONLY) only its staff and the customers it invited or has tickets of (`customer`,
not `other-customer`) read anything, for everyone else it does not exist (NOT_FOUND); staff of
`org` everything of theirs; only staff write
articles, only admins categories; an article's history and the event stream are staff-only.
Every answer to a reader is also checked for the knowledge base's secret markers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from models import Organization, OrganizationVisibility
from tests.conftest import Stack
from tests.knowledge_base.helpers import kb_state
from tests.security.kb_world import (
    CATEGORY_NAME,
    DRAFT_TITLE,
    INTERNAL_TITLE,
    INTERNAL_WORD,
    KB_SECRETS,
    OTHER_ORG_ARTICLE,
    OTHER_ORG_DRAFT,
    PUBLIC_TITLE,
    REVISION_TITLE,
    KbWorld,
    build_knowledge_base,
)
from tests.security.test_permission_matrix import (
    ALLOWED,
    FORBIDDEN,
    FORBIDDEN_INPUT,
    NOT_FOUND,
    NOT_FOUND_INPUT,
    REFUSALS,
    UNAUTHENTICATED,
    Outcome,
    Row,
    allowed,
    case_id,
    check_answer,
    check_texts,
    filtered,
    null_forbidden,
    roles,
    user_error,
)
from tests.security.world import (
    CUSTOMERS,
    IDENTITIES,
    Person,
    World,
    build_world,
    call_ok,
    database_state,
    empty_tables,
    gid,
    post,
)
from tests.ws import GraphQLWebSocket, serving

U = UNAUTHENTICATED


class Both:
    """The ticket world and its knowledge base, one object for the rows' variables."""

    def __init__(self, world: World, kb: KbWorld) -> None:
        self.world = world
        self.kb = kb

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kb, name) if hasattr(self.kb, name) else getattr(self.world, name)


def var(**values: Any) -> Any:
    """Variables; a string value names an attribute of the world whose global id it is."""

    def build(both: Any, me: Person | None) -> dict[str, Any]:
        return {k: gid(getattr(both, v)) if isinstance(v, str) else v for k, v in values.items()}

    return build


def payload(**values: Any) -> Any:
    """Mutation variables {"input": ...}; string values name world rows (their global ids)."""

    def build(both: Any, me: Person | None) -> dict[str, Any]:
        resolved = {
            k: (gid(getattr(both, v[1:])) if isinstance(v, str) and v.startswith("@") else v)
            for k, v in values.items()
        }
        return {"input": resolved}

    return build


def readers(outcome: Outcome) -> tuple[Outcome, Outcome, Outcome]:
    return outcome, outcome, outcome


PUBLIC_ONLY = filtered(PUBLIC_TITLE, hides=KB_SECRETS, count=1)
ALL_OF_ORG = allowed(PUBLIC_TITLE, INTERNAL_TITLE, DRAFT_TITLE, count=4)
OTHER_STAFF_VIEW = filtered(PUBLIC_TITLE, hides=KB_SECRETS, count=1)
# Readable by everyone, anonymous callers included.
EVERYONE = roles(*(allowed(PUBLIC_TITLE) for _ in IDENTITIES))
# Hidden from readers and other organizations' staff, as if it did not exist.
ORG_STAFF_ONLY = roles(NOT_FOUND, NOT_FOUND, NOT_FOUND, ALLOWED, NOT_FOUND, ALLOWED, NOT_FOUND)
STAFF_WRITE = roles(
    U, FORBIDDEN_INPUT, FORBIDDEN_INPUT, ALLOWED, NOT_FOUND_INPUT, ALLOWED, NOT_FOUND_INPUT
)

KNOWLEDGE_BASE = """
query($org: ID!) {
  knowledgeBase(organizationId: $org) {
    organization { name }
    categories { name parent { name } }
    articles(first: 50) { totalCount edges { snippet node { title body bodyHtml state } } }
  }
}
"""
SEARCH = """
query($org: ID!, $q: String!) {
  knowledgeBase(organizationId: $org) {
    articles(filter: {search: $q}) { totalCount edges { snippet node { title } } }
  }
}
"""
ARTICLE = "query($id: ID!) { article(id: $id) { title body category { name } author { name } } }"
BY_SLUG = 'query($org: ID!) { articleBySlug(organizationId: $org, slug: "draft") { title } }'
SUGGEST = """
query($org: ID!) {
  suggestArticles(organizationId: $org, text: "printer override recall pricing") {
    snippet article { title }
  }
}
"""
HISTORY = """
query($id: ID!) { article(id: $id) { title history { title body previousTitle editor { name } } } }
"""
NODE_ARTICLE = "query($id: ID!) { node(id: $id) { ... on Article { title } } }"
NODE_CATEGORY = "query($id: ID!) { node(id: $id) { ... on KnowledgeBaseCategory { name } } }"
SUGGESTED = "query($id: ID!) { ticket(id: $id) { title suggestedArticles { title } } }"
LINKED = "query($id: ID!) { ticket(id: $id) { responses { nodes { articles { title } } } } }"
KB_METRICS = "query { metrics { knowledgeBase { articleLinks articles { article { title } } } } }"

READ_ROWS = [
    Row(
        "knowledgeBase-articles",
        KNOWLEDGE_BASE,
        var(org="org"),
        roles(*readers(PUBLIC_ONLY), ALL_OF_ORG, OTHER_STAFF_VIEW, ALL_OF_ORG, OTHER_STAFF_VIEW),
        count=("knowledgeBase", "articles", "totalCount"),
    ),
    Row(
        "knowledgeBase-search-secret-word",
        SEARCH.replace("$q: String!", '$q: String! = "' + INTERNAL_WORD + '"'),
        var(org="org"),
        roles(
            *readers(filtered(hides=KB_SECRETS, count=0)),
            allowed(INTERNAL_TITLE, count=1),
            filtered(hides=KB_SECRETS, count=0),
            allowed(INTERNAL_TITLE, count=1),
            filtered(hides=KB_SECRETS, count=0),
        ),
        count=("knowledgeBase", "articles", "totalCount"),
    ),
    Row("article-public", ARTICLE, var(id="public_article"), EVERYONE),
    Row(
        "article-of-other-org",
        ARTICLE.replace("title", "title organization { name }"),
        var(id="other_article"),
        roles(*(allowed(OTHER_ORG_ARTICLE) for _ in IDENTITIES)),
    ),
    Row("article-internal", ARTICLE, var(id="internal_article"), ORG_STAFF_ONLY),
    Row("article-draft", ARTICLE, var(id="draft_article"), ORG_STAFF_ONLY),
    Row("article-archived", ARTICLE, var(id="archived_article"), ORG_STAFF_ONLY),
    Row("articleBySlug-draft", BY_SLUG, var(org="org"), ORG_STAFF_ONLY),
    Row(
        "suggestArticles",
        SUGGEST,
        var(org="org"),
        roles(
            *readers(filtered(PUBLIC_TITLE, hides=KB_SECRETS)),
            allowed(PUBLIC_TITLE, INTERNAL_TITLE, hides=(DRAFT_TITLE,)),
            filtered(PUBLIC_TITLE, hides=KB_SECRETS),
            allowed(PUBLIC_TITLE, INTERNAL_TITLE, hides=(DRAFT_TITLE,)),
            filtered(PUBLIC_TITLE, hides=KB_SECRETS),
        ),
    ),
    Row(
        "article-history",
        HISTORY,
        var(id="public_article"),
        roles(
            *readers(null_forbidden(*KB_SECRETS, shows=(PUBLIC_TITLE,))),
            allowed(REVISION_TITLE),
            null_forbidden(*KB_SECRETS),
            allowed(REVISION_TITLE),
            null_forbidden(*KB_SECRETS),
        ),
    ),
    Row(
        "node-article-internal",
        NODE_ARTICLE,
        var(id="internal_article"),
        roles(U, NOT_FOUND, NOT_FOUND, ALLOWED, NOT_FOUND, ALLOWED, NOT_FOUND),
    ),
    Row(
        "node-category",
        NODE_CATEGORY,
        var(id="category"),
        roles(U, *(allowed(CATEGORY_NAME) for _ in range(6))),
    ),
    Row(
        "ticket-suggestedArticles",
        SUGGESTED,
        var(id="ticket"),
        roles(U, null_forbidden(), NOT_FOUND, ALLOWED, NOT_FOUND, ALLOWED, NOT_FOUND),
    ),
    Row(
        "response-articles",
        LINKED,
        var(id="ticket"),
        roles(
            U,
            filtered(PUBLIC_TITLE, hides=KB_SECRETS),
            NOT_FOUND,
            allowed(PUBLIC_TITLE, INTERNAL_TITLE),
            NOT_FOUND,
            allowed(PUBLIC_TITLE, INTERNAL_TITLE),
            NOT_FOUND,
        ),
    ),
    Row(
        "metrics-knowledgeBase",
        KB_METRICS,
        var(),
        roles(U, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, allowed(count=2), allowed(count=0)),
        count=("metrics", "knowledgeBase", "articleLinks"),
    ),
]

# other_org made INVITE_ONLY: `customer` has a ticket there, `other-customer` has none.
OTHER_ORG_CUSTOMER = filtered(OTHER_ORG_ARTICLE, hides=KB_SECRETS, count=1)
OTHER_ORG_STAFF = allowed(OTHER_ORG_ARTICLE, OTHER_ORG_DRAFT, count=2)
NF = NOT_FOUND
INVITE_ONLY_ROWS = [
    Row(
        "invite-only-knowledgeBase",
        KNOWLEDGE_BASE,
        var(org="other_org"),
        roles(NF, OTHER_ORG_CUSTOMER, NF, NF, OTHER_ORG_STAFF, NF, OTHER_ORG_STAFF),
        count=("knowledgeBase", "articles", "totalCount"),
    ),
    Row(
        "invite-only-knowledgeBase-search",
        SEARCH.replace("$q: String!", '$q: String! = "Kbotherorgarticle"'),
        var(org="other_org"),
        roles(
            NF,
            filtered(OTHER_ORG_ARTICLE, count=1),
            NF,
            NF,
            allowed(OTHER_ORG_ARTICLE, count=1),
            NF,
            allowed(OTHER_ORG_ARTICLE, count=1),
        ),
        count=("knowledgeBase", "articles", "totalCount"),
    ),
    Row(
        "invite-only-article",
        ARTICLE,
        var(id="other_article"),
        roles(NF, allowed(OTHER_ORG_ARTICLE), NF, NF, ALLOWED, NF, ALLOWED),
    ),
    Row(
        "invite-only-articleBySlug",
        BY_SLUG.replace('"draft"', '"other"'),
        var(org="other_org"),
        roles(NF, allowed(OTHER_ORG_ARTICLE), NF, NF, ALLOWED, NF, ALLOWED),
    ),
    Row(
        "invite-only-suggestArticles",
        SUGGEST.replace("printer override recall pricing", "vpn guide"),
        var(org="other_org"),
        roles(NF, allowed(OTHER_ORG_ARTICLE), NF, NF, ALLOWED, NF, ALLOWED),
    ),
    Row(
        "invite-only-node-category",
        NODE_CATEGORY,
        var(id="other_category"),
        roles(U, allowed("Elsewherecategory"), NF, NF, ALLOWED, NF, ALLOWED),
    ),
]

ARTICLE_PAYLOAD = "{ article { title } userErrors { field code } }"
CATEGORY_PAYLOAD = "{ category { name } userErrors { field code } }"
CREATE = (
    f"mutation($input: CreateArticleInput!) {{ createArticle(input: $input) {ARTICLE_PAYLOAD} }}"
)
UPDATE = (
    f"mutation($input: UpdateArticleInput!) {{ updateArticle(input: $input) {ARTICLE_PAYLOAD} }}"
)
PUBLISH = (
    f"mutation($input: ArticleStateInput!) {{ publishArticle(input: $input) {ARTICLE_PAYLOAD} }}"
)
ARCHIVE = (
    f"mutation($input: ArticleStateInput!) {{ archiveArticle(input: $input) {ARTICLE_PAYLOAD} }}"
)
CREATE_CATEGORY = f"""
mutation($input: CategoryInput!) {{ createKnowledgeBaseCategory(input: $input) {CATEGORY_PAYLOAD} }}
"""
UPDATE_CATEGORY = f"""
mutation($input: UpdateCategoryInput!) {{
  updateKnowledgeBaseCategory(input: $input) {CATEGORY_PAYLOAD}
}}
"""
OPENED = f"""
mutation($input: SuggestionOpenedInput!) {{
  recordArticleSuggestionOpened(input: $input) {ARTICLE_PAYLOAD}
}}
"""
REPLY = """
mutation($input: AddResponseInput!) {
  addResponse(input: $input) { response { body } userErrors { field code } }
}
"""
ORG_STAFF_CATEGORY = roles(
    U, FORBIDDEN_INPUT, FORBIDDEN_INPUT, FORBIDDEN_INPUT, FORBIDDEN_INPUT, ALLOWED, NOT_FOUND_INPUT
)
LINK_REFUSED = user_error("INVALID")

MUTATION_ROWS = [
    Row(
        "createArticle",
        CREATE,
        payload(title="Newarticle"),
        roles(U, FORBIDDEN_INPUT, FORBIDDEN_INPUT, ALLOWED, ALLOWED, ALLOWED, ALLOWED),
    ),
    Row(
        "updateArticle-internal",
        UPDATE,
        payload(id="@internal_article", title="Renamed"),
        STAFF_WRITE,
    ),
    Row(
        "updateArticle-move",
        UPDATE,
        payload(id="@draft_article", categoryId="@category"),
        STAFF_WRITE,
    ),
    Row("publishArticle-draft", PUBLISH, payload(id="@draft_article"), STAFF_WRITE),
    Row(
        "archiveArticle-public",
        ARCHIVE,
        payload(id="@public_article", expectedVersion=2),
        STAFF_WRITE,
    ),
    Row(
        "createKnowledgeBaseCategory",
        CREATE_CATEGORY,
        payload(name="Newcategory"),
        roles(
            U, FORBIDDEN_INPUT, FORBIDDEN_INPUT, FORBIDDEN_INPUT, FORBIDDEN_INPUT, ALLOWED, ALLOWED
        ),
    ),
    Row(
        "updateKnowledgeBaseCategory",
        UPDATE_CATEGORY,
        payload(id="@category", name="Renamed"),
        ORG_STAFF_CATEGORY,
    ),
    Row(
        "recordArticleSuggestionOpened-public",
        OPENED,
        payload(articleId="@public_article"),
        roles(*(ALLOWED for _ in IDENTITIES)),
    ),
    Row(
        "recordArticleSuggestionOpened-internal",
        OPENED,
        payload(articleId="@internal_article"),
        roles(
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
        ),
    ),
    Row(
        "addResponse-public-article",
        REPLY,
        payload(ticketId="@ticket", body="See", articleIds=[]),
        roles(
            U, FORBIDDEN_INPUT, NOT_FOUND_INPUT, ALLOWED, NOT_FOUND_INPUT, ALLOWED, NOT_FOUND_INPUT
        ),
    ),
    Row(
        "addResponse-internal-article-in-a-reply",
        REPLY,
        payload(ticketId="@ticket", body="See", articleIds=[]),
        roles(
            U,
            FORBIDDEN_INPUT,
            NOT_FOUND_INPUT,
            LINK_REFUSED,
            NOT_FOUND_INPUT,
            LINK_REFUSED,
            NOT_FOUND_INPUT,
        ),
    ),
]
# addResponse rows name their article here (a list value cannot name a world row above).
LINKED_ARTICLE = {
    "addResponse-public-article": "public_article",
    "addResponse-internal-article-in-a-reply": "internal_article",
}
# Allowed cases that rightly change nothing: staff opening a suggestion is no deflection.
UNCHANGED = {
    ("recordArticleSuggestionOpened-public", i)
    for i in ("agent", "other-agent", "admin", "other-admin")
} | {("recordArticleSuggestionOpened-internal", i) for i in ("agent", "admin")}

SUBSCRIPTION = "subscription { knowledgeBaseEvents { action article { title } } }"
SUBSCRIPTION_OUTCOMES = roles(
    U,
    FORBIDDEN,
    FORBIDDEN,
    allowed(PUBLIC_TITLE),
    filtered(OTHER_ORG_ARTICLE, hides=(PUBLIC_TITLE,)),
    allowed(PUBLIC_TITLE),
    filtered(OTHER_ORG_ARTICLE, hides=(PUBLIC_TITLE,)),
)
# What test_permission_matrix.test_matrix_covers_every_operation counts as covered.
COVERED_DOCUMENTS = [row.document for row in [*READ_ROWS, *INVITE_ONLY_ROWS, *MUTATION_ROWS]] + [
    SUBSCRIPTION
]


def variables_of(row: Row, both: Both, me: Person | None) -> dict[str, Any]:
    variables = row.variables(both, me)
    if row.name in LINKED_ARTICLE:
        variables["input"]["articleIds"] = [gid(getattr(both, LINKED_ARTICLE[row.name]))]
    return variables


@pytest.fixture(scope="class")
async def read_world(backend: Stack) -> AsyncIterator[Both]:
    async with backend.sessionmaker() as session:
        world = await build_world(session)
        kb = await build_knowledge_base(session, world)
    seeded = (await database_state(backend), await kb_state(backend))
    try:
        yield Both(world, kb)
        assert (await database_state(backend), await kb_state(backend)) == seeded
    finally:
        await empty_tables(backend.engine)


@pytest.fixture(scope="class")
async def invite_only_world(backend: Stack) -> AsyncIterator[Both]:
    """The read world with other_org INVITE_ONLY."""
    async with backend.sessionmaker() as session:
        world = await build_world(session)
        kb = await build_knowledge_base(session, world)
        organization = await session.get(Organization, world.other_org.id)
        assert organization is not None
        organization.visibility = OrganizationVisibility.INVITE_ONLY
        await session.commit()
    seeded = (await database_state(backend), await kb_state(backend))
    try:
        yield Both(world, kb)
        assert (await database_state(backend), await kb_state(backend)) == seeded
    finally:
        await empty_tables(backend.engine)


def check_kb_answer(row: Row, outcome: Outcome, identity: str, response: Any) -> None:
    check_answer(row, outcome, identity, response)
    if identity in (*CUSTOMERS, "anonymous"):
        check_texts(filtered(hides=KB_SECRETS), identity, response.text)
    if outcome.kind == "USER_ERROR":
        (value,) = response.json()["data"].values()
        assert value.get("article") is None
        assert value.get("category") is None
        assert value.get("response") is None


class TestReads:
    @pytest.mark.parametrize(
        ("row", "identity"),
        [pytest.param(r, i, id=case_id(r, i)) for r in READ_ROWS for i in IDENTITIES],
    )
    async def test_read(
        self,
        backend: Stack,
        read_world: Both,
        row: Row,
        identity: str,
    ) -> None:
        me = read_world.world.person(identity)

        response = await post(backend, me, row.document, row.variables(read_world, me))

        check_kb_answer(row, row.outcomes[identity], identity, response)


class TestInviteOnlyReads:
    @pytest.mark.parametrize(
        ("row", "identity"),
        [pytest.param(r, i, id=case_id(r, i)) for r in INVITE_ONLY_ROWS for i in IDENTITIES],
    )
    async def test_read(
        self, backend: Stack, invite_only_world: Both, row: Row, identity: str
    ) -> None:
        me = invite_only_world.world.person(identity)

        response = await post(backend, me, row.document, row.variables(invite_only_world, me))

        check_kb_answer(row, row.outcomes[identity], identity, response)


@pytest.mark.parametrize(
    ("row", "identity"),
    [pytest.param(r, i, id=case_id(r, i)) for r in MUTATION_ROWS for i in IDENTITIES],
)
async def test_write(fresh: Stack, row: Row, identity: str) -> None:
    async with fresh.sessionmaker() as session:
        world = await build_world(session)
        both = Both(world, await build_knowledge_base(session, world))
    me = world.person(identity)
    before = (await database_state(fresh), await kb_state(fresh))

    response = await post(fresh, me, row.document, variables_of(row, both, me))

    outcome = row.outcomes[identity]
    check_kb_answer(row, outcome, identity, response)
    after = (await database_state(fresh), await kb_state(fresh))
    if outcome.kind == "ALLOWED" and (row.name, identity) not in UNCHANGED:
        assert after != before, "an allowed mutation changed nothing"
    else:
        assert after == before, "a refused mutation changed something"


@pytest.fixture(scope="module")
async def ws_url(backend: Stack) -> AsyncIterator[str]:
    async with serving(backend.app) as url:
        yield url


@pytest.mark.parametrize("identity", IDENTITIES)
async def test_subscription(fresh: Stack, ws_url: str, identity: str) -> None:
    """An update of org's public article, then one of other_org's: org's staff receive the
    first, other_org's staff only the second, everyone else is refused."""
    from subscriptions.knowledge_base import notifier
    from tests.ws import wait_until

    async with fresh.sessionmaker() as session:
        world = await build_world(session)
        kb = await build_knowledge_base(session, world)
    me = world.person(identity)
    outcome = SUBSCRIPTION_OUTCOMES[identity]
    token = None if me is None else fresh.token(me.user_id)

    async with GraphQLWebSocket.connect(ws_url, token) as socket:
        await socket.subscribe(SUBSCRIPTION)
        if outcome.kind not in REFUSALS:
            await wait_until(lambda: notifier.waiting_for(me.organization_id) == 1)  # type: ignore[union-attr]
            await call_ok(
                fresh, world.agent, UPDATE, {"input": {"id": gid(kb.public_article), "body": "x"}}
            )
            await call_ok(
                fresh,
                world.other_admin,
                UPDATE,
                {"input": {"id": gid(kb.other_article), "body": "y"}},
            )
        message = await socket.receive()

    if outcome.kind in REFUSALS:
        assert message["type"] == "error", message
        assert [e["extensions"]["code"] for e in message["payload"]] == [outcome.kind]
    else:
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
    check_texts(outcome, identity, str(message))
