"""The error placement rule (README, "Errors"), walked over every mutation of the schema.

The same kind of failure gets the same code in the same place: every expected refusal of a
mutation is a userError naming the input field, in a payload that is there (never a top-level
error that would null the other mutations of the request), and it changes nothing. Only
authentication (HTTP 401) and values that do not coerce are refused before the mutation runs.

The id cases are derived from the schema: every `ID` field of every mutation's input gets a
global id of the wrong type and one of another organization's object. A mutation that is not
in CASES, or an id field whose type ID_FIELD_TYPES does not name, fails this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Attachment, Status, TeamMember, Ticket
from schema import schema
from tests.conftest import Stack
from tests.factories import create_customer, create_ticket
from tests.graphql import assert_authentication_required, error_codes, global_id
from tests.security.kb_world import KbWorld, build_knowledge_base
from tests.security.world import (
    INTERNAL_FILE_NAME,
    OTHER_ORG_TITLE,
    OTHER_TITLE,
    OWN_TITLE,
    STAFF_ONLY_TEXTS,
    World,
    attachment,
    build_world,
    call,
    database_state,
    empty_tables,
    gid,
    post,
)

GRAPHQL = schema._schema
MUTATIONS = GRAPHQL.mutation_type
assert MUTATIONS is not None

# What object each kind of input id names. A new id field must be added here.
ID_FIELD_TYPES = {
    "id": "Ticket",
    "ticketId": "Ticket",
    "ticketIds": "Ticket",
    "teamId": "Team",
    "assigneeId": "TeamMember",
    "customerId": "Customer",
    "organizationId": "Organization",
    "attachmentIds": "Attachment",
    "articleId": "Article",
    "articleIds": "Article",
    "categoryId": "KnowledgeBaseCategory",
    "parentId": "KnowledgeBaseCategory",
    # Where one name means another type in one mutation: "<mutation>.<field>".
    "updateArticle.id": "Article",
    "publishArticle.id": "Article",
    "archiveArticle.id": "Article",
    "updateKnowledgeBaseCategory.id": "KnowledgeBaseCategory",
}


def id_type(mutation: str, name: str) -> str | None:
    return ID_FIELD_TYPES.get(f"{mutation}.{name}", ID_FIELD_TYPES.get(name))


Input = Callable[["Scene"], dict[str, Any]]
# Texts a refusal must not echo.
CONTENT_TEXTS = (OWN_TITLE, OTHER_TITLE, OTHER_ORG_TITLE, *STAFF_ONLY_TEXTS)
# In a case's changes: leave this field out of the valid input.
DROP = object()


@dataclass
class Scene:
    """The security world plus a customer known only to the other organization."""

    world: World
    stranger: Any
    # The stranger's upload, for their ticket with the other organization.
    stranger_file: Attachment
    kb: KbWorld
    # A routing rule in each organization ("rule", "other_rule").
    rules: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name != "kb" and hasattr(self.kb, name):
            return getattr(self.kb, name)
        return getattr(self.world, name)

    def other_tenants(self, type_name: str) -> str:
        """The global id of another organization's object of this type."""
        return {
            "Ticket": lambda: gid(self.other_org_ticket),
            "Team": lambda: gid(self.other_team),
            "TeamMember": lambda: gid(self.other_agent),
            "Customer": lambda: gid(self.stranger),
            "Organization": lambda: gid(self.other_org),
            "Attachment": lambda: gid(self.stranger_file),
            "RoutingRule": lambda: gid(self.rules["other_rule"]),
            # A draft: another organization's published articles are public.
            "Article": lambda: gid(self.kb.other_draft),
            "KnowledgeBaseCategory": lambda: gid(self.kb.other_category),
        }[type_name]()


@dataclass(frozen=True)
class Case:
    """A refused call: who, the input changed from the mutation's valid one, and where the
    refusal must be reported (field None: the request as a whole)."""

    name: str
    who: str
    changes: Input
    field: str | None
    code: str
    arrange: Callable[[AsyncSession, Scene], Any] | None = None


@dataclass(frozen=True)
class NotApplicable:
    reason: str


@dataclass
class MutationCases:
    """For one mutation: an input that succeeds as an admin, and its refusals by kind."""

    valid: Input
    forbidden: list[Case] | NotApplicable
    illegal_moves: list[Case] | NotApplicable
    other_customer: list[Case]
    valid_as: str = "admin"
    extra: list[Case] = field(default_factory=list)
    # Public mutations (no authentication needed) answer anonymous callers.
    public: bool = False


def set_(**values: Any) -> Input:
    return lambda scene: {k: v(scene) if callable(v) else v for k, v in values.items()}


async def agent2_pending(session: AsyncSession, scene: Scene) -> None:
    """The second agent was invited and has not signed in yet."""
    await session.execute(
        update(TeamMember).where(TeamMember.id == scene.agent2.id).values(user_id=None)
    )
    await session.commit()


async def agent2_deactivated(session: AsyncSession, scene: Scene) -> None:
    await session.execute(
        update(TeamMember).where(TeamMember.id == scene.agent2.id).values(is_active=False)
    )
    await session.commit()


def own_ticket(scene: Scene) -> str:
    return gid(scene.ticket)


async def close_ticket(session: AsyncSession, scene: Scene) -> None:
    moment = scene.ticket.created_at
    await session.execute(
        update(Ticket)
        .where(Ticket.id == scene.ticket.id)
        .values(status=Status.CLOSED, closed_at=moment, resolved_at=moment)
    )
    await session.commit()


def upload(**changes: Any) -> Input:
    """createAttachmentUpload's input for a small PNG on the customer's ticket, changed."""
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 24
    values: dict[str, Any] = {
        "ticketId": own_ticket,
        "filename": "screenshot.png",
        "contentType": "image/png",
        "byteSize": len(png),
        "checksumSha256": hashlib.sha256(png).hexdigest(),
    }
    return set_(**(values | changes))


def node(attribute: str) -> Callable[[Scene], str]:
    return lambda scene: gid(getattr(scene, attribute))


def staff_only(mutation: str, who: str = "customer") -> list[Case]:
    return [Case(f"{who}-may-not", who, set_(), None, "FORBIDDEN")]


KNOWLEDGE_BASE_CASES: dict[str, MutationCases] = {
    "createArticle": MutationCases(
        valid=set_(title="New article", categoryId=node("category")),
        forbidden=staff_only("createArticle"),
        illegal_moves=NotApplicable("a new article has no state to move from"),
        other_customer=staff_only("createArticle", "other-customer"),
        extra=[Case("a-taken-slug", "admin", set_(slug="public-article"), "slug", "DUPLICATE")],
    ),
    "updateArticle": MutationCases(
        valid=set_(id=node("public_article"), title="Renamed", categoryId=node("category")),
        forbidden=staff_only("updateArticle"),
        illegal_moves=NotApplicable("an edit does not change the state"),
        other_customer=staff_only("updateArticle", "other-customer"),
        extra=[
            Case("a-stale-version", "admin", set_(expectedVersion=1), "expectedVersion", "CONFLICT")
        ],
    ),
    "publishArticle": MutationCases(
        valid=set_(id=node("draft_article")),
        forbidden=staff_only("publishArticle"),
        illegal_moves=[
            Case(
                "publish-a-published-article",
                "admin",
                set_(id=node("public_article")),
                "id",
                "ILLEGAL_TRANSITION",
            )
        ],
        other_customer=staff_only("publishArticle", "other-customer"),
    ),
    "archiveArticle": MutationCases(
        valid=set_(id=node("public_article")),
        forbidden=staff_only("archiveArticle"),
        illegal_moves=[
            Case(
                "archive-an-archived-article",
                "admin",
                set_(id=node("archived_article")),
                "id",
                "ILLEGAL_TRANSITION",
            )
        ],
        other_customer=staff_only("archiveArticle", "other-customer"),
    ),
    "createKnowledgeBaseCategory": MutationCases(
        valid=set_(name="New category", parentId=node("category")),
        forbidden=staff_only("createKnowledgeBaseCategory", "agent"),
        illegal_moves=NotApplicable("a category has no state"),
        other_customer=staff_only("createKnowledgeBaseCategory", "other-customer"),
        extra=[Case("a-taken-slug", "admin", set_(slug="printing"), "slug", "DUPLICATE")],
    ),
    "updateKnowledgeBaseCategory": MutationCases(
        valid=set_(id=node("category"), name="Renamed"),
        forbidden=staff_only("updateKnowledgeBaseCategory", "agent"),
        illegal_moves=NotApplicable("a category has no state"),
        other_customer=staff_only("updateKnowledgeBaseCategory", "other-customer"),
        extra=[
            Case("its-own-parent", "admin", set_(parentId=node("category")), "parentId", "INVALID")
        ],
    ),
    "recordArticleSuggestionOpened": MutationCases(
        valid=set_(articleId=node("public_article")),
        valid_as="customer",
        public=True,
        forbidden=NotApplicable("anyone may record opening an article they may read"),
        illegal_moves=NotApplicable("an open has no state"),
        other_customer=[
            Case(
                "an-internal-article",
                "customer",
                set_(articleId=node("internal_article")),
                "articleId",
                "NOT_FOUND",
            )
        ],
    ),
}

CASES: dict[str, MutationCases] = {
    "createTicket": MutationCases(
        valid=set_(title="New ticket", customerId=lambda s: gid(s.customer)),
        forbidden=[
            Case(
                f"customer-sets-{name}",
                "customer",
                set_(customerId=DROP, organizationId=lambda s: gid(s.org), **{name: value}),
                name,
                "FORBIDDEN",
            )
            for name, value in (
                ("teamId", lambda s: gid(s.team)),
                ("tags", ["vip"]),
                ("metadata", {"crm": "x"}),
            )
        ],
        illegal_moves=NotApplicable("a new ticket has no status to move from"),
        other_customer=[
            Case(
                "customer-opens-for-another-customer",
                "customer",
                set_(
                    organizationId=lambda s: gid(s.org), customerId=lambda s: gid(s.other_customer)
                ),
                "customerId",
                "FORBIDDEN",
            )
        ],
        extra=[
            Case(
                "a-file-uploaded-for-an-existing-ticket",
                "customer",
                set_(
                    customerId=DROP,
                    organizationId=lambda s: gid(s.org),
                    attachmentIds=lambda s: [gid(s.pending_file)],
                ),
                "attachmentIds",
                "NOT_FOUND",
            ),
        ],
    ),
    "createAttachmentUpload": MutationCases(
        valid=upload(),
        forbidden=NotApplicable(
            "anyone signed in may upload for a ticket they may read or an organization they may "
            "open one with; any other ticket or organization is NOT_FOUND"
        ),
        illegal_moves=NotApplicable("an upload has no status to move from"),
        other_customer=[
            Case(
                "customer-uploads-for-another-customers-ticket",
                "customer",
                upload(ticketId=lambda s: gid(s.other_ticket)),
                "ticketId",
                "NOT_FOUND",
            )
        ],
        extra=[
            Case("no-target", "customer", upload(ticketId=DROP), "ticketId", "REQUIRED"),
            Case(
                "both-targets",
                "customer",
                upload(organizationId=lambda s: gid(s.org)),
                "organizationId",
                "INVALID",
            ),
            Case(
                "too-large",
                "customer",
                upload(byteSize=25 * 1024 * 1024 + 1),
                "byteSize",
                "TOO_LARGE",
            ),
            Case(
                "a-type-not-accepted",
                "customer",
                upload(contentType="application/x-msdownload"),
                "contentType",
                "UNSUPPORTED_TYPE",
            ),
            Case(
                "a-right-to-left-override-in-the-name",
                "customer",
                upload(filename="invoice\u202egnp.exe"),
                "filename",
                "INVALID",
            ),
            Case(
                "not-a-sha256",
                "customer",
                upload(checksumSha256="abc"),
                "checksumSha256",
                "INVALID",
            ),
        ],
    ),
    "updateTicket": MutationCases(
        valid=set_(id=own_ticket, priority="HIGH"),
        forbidden=[
            Case(
                f"customer-changes-{name}",
                "customer",
                set_(**({"priority": DROP} | {name: value})),
                name,
                "FORBIDDEN",
            )
            for name, value in (
                ("title", "Mine"),
                ("description", "Mine"),
                ("priority", "URGENT"),
                ("teamId", None),
                ("tags", ["x"]),
                ("metadata", {}),
            )
        ],
        illegal_moves=[
            Case(
                "customer-starts-work",
                "customer",
                set_(priority=DROP, status="IN_PROGRESS"),
                "status",
                "ILLEGAL_TRANSITION",
            ),
            Case(
                "staff-resolve-a-closed-ticket",
                "agent",
                set_(priority=DROP, status="RESOLVED"),
                "status",
                "ILLEGAL_TRANSITION",
                arrange=close_ticket,
            ),
        ],
        other_customer=[
            Case(
                "customer-updates-another-customers-ticket",
                "customer",
                set_(id=lambda s: gid(s.other_ticket), priority=DROP, status="CLOSED"),
                "id",
                "NOT_FOUND",
            )
        ],
        extra=[
            Case(
                "stale-version",
                "agent",
                set_(expectedVersion=99),
                "expectedVersion",
                "CONFLICT",
            ),
        ],
    ),
    "addResponse": MutationCases(
        valid=set_(ticketId=own_ticket, body="Hello"),
        forbidden=[
            Case("customer-writes-a-note", "customer", set_(internal=True), "internal", "FORBIDDEN")
        ],
        illegal_moves=[
            Case(
                "reply-to-a-closed-ticket",
                "customer",
                set_(),
                "ticketId",
                "TICKET_CLOSED",
                arrange=close_ticket,
            )
        ],
        other_customer=[
            Case(
                "customer-replies-to-another-customers-ticket",
                "customer",
                set_(ticketId=lambda s: gid(s.other_ticket)),
                "ticketId",
                "NOT_FOUND",
            )
        ],
        extra=[
            Case("empty-body", "agent", set_(body=" "), "body", "REQUIRED"),
            Case(
                "someone-elses-upload",
                "agent",
                set_(attachmentIds=lambda s: [gid(s.pending_file)]),
                "attachmentIds",
                "NOT_FOUND",
            ),
            Case(
                "a-file-attached-already",
                "agent",
                set_(attachmentIds=lambda s: [gid(s.reply_file)]),
                "attachmentIds",
                "CONFLICT",
            ),
            Case(
                "too-many-files",
                "customer",
                # One more than a message may carry (ATTACHMENT_MAX_PER_RESPONSE, 10).
                set_(attachmentIds=[global_id("Attachment", 10_000 + n) for n in range(11)]),
                "attachmentIds",
                "TOO_MANY",
            ),
        ],
    ),
    "assignTicket": MutationCases(
        valid=set_(ticketId=own_ticket, assigneeId=lambda s: gid(s.agent2)),
        forbidden=[
            Case("customer-assigns", "customer", set_(), None, "FORBIDDEN"),
            Case("agent-assigns-a-colleague", "agent", set_(), "assigneeId", "FORBIDDEN"),
        ],
        illegal_moves=NotApplicable("assignment has no workflow; who may assign is FORBIDDEN"),
        other_customer=[
            Case(
                "customer-assigns-another-customers-ticket",
                "customer",
                set_(ticketId=lambda s: gid(s.other_ticket)),
                "ticketId",
                "NOT_FOUND",
            )
        ],
        extra=[
            Case("a-pending-member", "admin", set_(), "assigneeId", "INVALID", agent2_pending),
            Case(
                "a-deactivated-member", "admin", set_(), "assigneeId", "INVALID", agent2_deactivated
            ),
        ],
    ),
    "bulkUpdateTickets": MutationCases(
        valid=set_(ticketIds=lambda s: [gid(s.ticket), gid(s.other_ticket)], priority="HIGH"),
        forbidden=[
            Case("customer-bulk-updates", "customer", set_(), None, "FORBIDDEN"),
            Case("agent-bulk-updates", "agent", set_(), None, "FORBIDDEN"),
        ],
        illegal_moves=[
            Case(
                "resolve-a-closed-ticket",
                "admin",
                set_(priority=DROP, status="RESOLVED"),
                "status",
                "ILLEGAL_TRANSITION",
                arrange=close_ticket,
            )
        ],
        other_customer=[
            Case(
                "customer-names-another-customers-ticket",
                "customer",
                set_(ticketIds=lambda s: [gid(s.other_ticket)]),
                None,
                "FORBIDDEN",
            )
        ],
        extra=[
            Case(
                "a-repeated-id",
                "admin",
                set_(ticketIds=lambda s: [gid(s.ticket), gid(s.ticket)]),
                "ticketIds",
                "DUPLICATE",
            ),
            Case(
                "a-pending-assignee",
                "admin",
                set_(assigneeId=lambda s: gid(s.agent2)),
                "assigneeId",
                "INVALID",
                agent2_pending,
            ),
        ],
    ),
    **KNOWLEDGE_BASE_CASES,
}


# Administration (issue 11) keeps its cases in a module of its own.
from tests.api.error_placement_admin import (  # noqa: E402
    ADMIN_CASES,
    ADMIN_ID_FIELD_TYPES,
    add_rules,
)

CASES.update(ADMIN_CASES)
ID_FIELD_TYPES.update(ADMIN_ID_FIELD_TYPES)


# --- reading the schema ----------------------------------------------------------------------


def input_type(mutation: str) -> GraphQLInputObjectType:
    argument = MUTATIONS.fields[mutation].args["input"]
    named = get_named_type(argument.type)
    assert isinstance(named, GraphQLInputObjectType)
    return named


def id_fields(mutation: str) -> Iterator[tuple[str, bool]]:
    """(name, is a list) of every ID field of the mutation's input."""
    for name, input_field in input_type(mutation).fields.items():
        named = get_named_type(input_field.type)
        if isinstance(named, GraphQLScalarType) and named.name == "ID":
            inner = (
                input_field.type.of_type
                if isinstance(input_field.type, GraphQLNonNull)
                else input_field.type
            )
            yield name, isinstance(inner, GraphQLList)


def selection(type_: Any) -> str:
    """A selection of a payload: scalars, `id` of objects, and every nested userErrors."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        return ""
    parts = []
    for name, sub in named.fields.items():
        sub_named = get_named_type(sub.type)
        if name == "userErrors":
            parts.append("userErrors { field code message }")
        elif isinstance(sub_named, GraphQLObjectType):
            inner = "id" if "id" in sub_named.fields else selection(sub_named)
            if inner:
                parts.append(f"{name} {{ {inner} }}")
        elif not sub.args:
            parts.append(name)
    return " ".join(parts)


def document(mutation: str) -> str:
    payload = MUTATIONS.fields[mutation].type
    return (
        f"mutation($input: {input_type(mutation).name}!) "
        f"{{ {mutation}(input: $input) {{ {selection(payload)} }} }}"
    )


def refusals(value: Any) -> set[tuple[str | None, str]]:
    """Every (field, code) in the payload's userErrors, nested ones (bulk results) included."""
    found: set[tuple[str | None, str]] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "userErrors":
                found |= {(error["field"], error["code"]) for error in item}
            else:
                found |= refusals(item)
    elif isinstance(value, list):
        for item in value:
            found |= refusals(item)
    return found


def objects_of(payload: dict[str, Any]) -> list[Any]:
    """The changed objects a payload returns (they must be absent on refusal)."""
    return [v for k, v in payload.items() if k not in ("userErrors", "results") and v]


# --- cases -----------------------------------------------------------------------------------


def wrong_type_cases() -> Iterator[Any]:
    for mutation in CASES:
        for name, is_list in id_fields(mutation):
            # No input takes history entry ids: a real global id, of the wrong type everywhere.
            def changes(scene: Scene, name: str = name, is_list: bool = is_list) -> dict[str, Any]:
                value = gid(scene.public_history)
                return {name: [value] if is_list else value}

            case = Case(f"wrong-type-{name}", "admin", changes, name, "NOT_FOUND")
            yield pytest.param(mutation, case, id=f"{mutation}-{case.name}")


def other_tenant_cases() -> Iterator[Any]:
    for mutation in CASES:
        for name, is_list in id_fields(mutation):
            type_name = id_type(mutation, name)
            assert type_name, f"add the object type of {mutation}.input.{name} to ID_FIELD_TYPES"

            def changes(
                scene: Scene, name: str = name, is_list: bool = is_list, type_name: str = type_name
            ) -> dict[str, Any]:
                value = scene.other_tenants(type_name)
                return {name: [value] if is_list else value}

            case = Case(f"other-tenant-{name}", "admin", changes, name, "NOT_FOUND")
            yield pytest.param(mutation, case, id=f"{mutation}-{case.name}")


def listed_cases() -> Iterator[Any]:
    for mutation, cases in CASES.items():
        moves = cases.illegal_moves if isinstance(cases.illegal_moves, list) else []
        forbidden = cases.forbidden if isinstance(cases.forbidden, list) else []
        for case in [*forbidden, *moves, *cases.other_customer, *cases.extra]:
            yield pytest.param(mutation, case, id=f"{mutation}-{case.name}")


@pytest.fixture
async def scene(stack: Stack) -> Any:
    async with stack.sessionmaker() as session:
        world = await build_world(session)
        stranger = await create_customer(session)
        strangers_ticket = await create_ticket(session, world.other_org, stranger)
        # Named with a staff-only marker, so that a refusal echoing it fails the check.
        stranger_file = attachment(
            strangers_ticket, stranger, INTERNAL_FILE_NAME, "text/plain", attached=False
        )
        session.add(stranger_file)
        rules = await add_rules(session, world)
        await session.commit()
        kb = await build_knowledge_base(session, world)
    try:
        yield Scene(world, stranger, stranger_file, kb, rules)
    finally:
        await empty_tables(stack.engine)


def variables_of(mutation: str, scene: Scene, changes: Input) -> dict[str, Any]:
    values = CASES[mutation].valid(scene) | changes(scene)
    return {"input": {k: v for k, v in values.items() if v is not DROP}}


async def refused_in_place(stack: Stack, scene: Scene, mutation: str, case: Case) -> None:
    """The refusal is a userError at (case.field, case.code); nothing else failed or changed."""
    if case.arrange is not None:
        async with stack.sessionmaker() as session:
            await case.arrange(session, scene)
    before = await database_state(stack)

    body, text = await call(
        stack,
        scene.person(case.who),
        document(mutation),
        variables_of(mutation, scene, case.changes),
    )

    assert error_codes(body) == [], body
    payload = body["data"][mutation]
    assert payload is not None, body
    assert (case.field, case.code) in refusals(payload), payload
    assert objects_of(payload) == [], payload
    assert all(error["message"] for error in payload.get("userErrors", []))
    for content in CONTENT_TEXTS:
        assert content not in text, f"a refusal echoed {content!r}"
    assert await database_state(stack) == before, "a refused mutation changed something"


# --- tests -----------------------------------------------------------------------------------


def test_every_mutation_of_the_schema_has_its_cases() -> None:
    assert set(MUTATIONS.fields) == set(CASES)
    for mutation, cases in CASES.items():
        assert isinstance(cases.forbidden, NotApplicable) or cases.forbidden, (
            f"{mutation}: who may not do what?"
        )
        assert cases.other_customer, f"{mutation}: what does another customer's id get?"
        assert isinstance(cases.illegal_moves, NotApplicable) or cases.illegal_moves, mutation
        for name, _ in id_fields(mutation):
            assert id_type(mutation, name), f"{mutation}.input.{name}: which object type?"


def test_every_mutation_payload_is_nullable() -> None:
    """A refusal, or even an unexpected failure, of one mutation never nulls the others."""
    assert {
        name: type(field.type).__name__
        for name, field in MUTATIONS.fields.items()
        if isinstance(field.type, GraphQLNonNull)
    } == {}


@pytest.mark.parametrize("mutation", sorted(CASES))
async def test_the_valid_input_succeeds(stack: Stack, scene: Scene, mutation: str) -> None:
    """The control: every refusal below differs from a call that succeeds in one value only."""
    cases = CASES[mutation]

    body, _ = await call(
        stack,
        scene.person(cases.valid_as),
        document(mutation),
        variables_of(mutation, scene, set_()),
    )

    assert error_codes(body) == [], body
    assert refusals(body["data"][mutation]) == set(), body


@pytest.mark.parametrize(("mutation", "case"), list(wrong_type_cases()))
async def test_an_id_of_the_wrong_type_is_not_found_at_its_field(
    stack: Stack, scene: Scene, mutation: str, case: Case
) -> None:
    await refused_in_place(stack, scene, mutation, case)


@pytest.mark.parametrize(("mutation", "case"), list(other_tenant_cases()))
async def test_an_id_of_another_organization_is_not_found_at_its_field(
    stack: Stack, scene: Scene, mutation: str, case: Case
) -> None:
    await refused_in_place(stack, scene, mutation, case)


@pytest.mark.parametrize(("mutation", "case"), list(listed_cases()))
async def test_forbidden_fields_illegal_moves_and_other_customers_ids(
    stack: Stack, scene: Scene, mutation: str, case: Case
) -> None:
    await refused_in_place(stack, scene, mutation, case)


@pytest.mark.parametrize("mutation", sorted(m for m, c in CASES.items() if not c.public))
async def test_anonymous_callers_get_401_before_anything_runs(
    stack: Stack, scene: Scene, mutation: str
) -> None:
    before = await database_state(stack)

    response = await post(stack, None, document(mutation), variables_of(mutation, scene, set_()))

    assert_authentication_required(response)
    assert await database_state(stack) == before


@pytest.mark.parametrize(
    ("mutation", "name", "is_list"),
    [(m, name, is_list) for m in CASES for name, is_list in id_fields(m)],
)
async def test_an_id_that_is_not_a_global_id_is_a_top_level_error_of_that_mutation_only(
    stack: Stack, scene: Scene, mutation: str, name: str, is_list: bool
) -> None:
    """A value that does not coerce to the input type is refused before the use case, at the
    mutation's path; the mutation beside it still runs."""
    before = await database_state(stack)
    broken = variables_of(mutation, scene, set_(**{name: ["!!"] if is_list else "!!"}))
    two = (
        f"mutation($input: {input_type(mutation).name}!, $id: ID!) {{"
        f" broken: {mutation}(input: $input) {{ __typename }}"
        ' fine: addResponse(input: {ticketId: $id, body: "Still here"}) { response { id } } }'
    )

    body, _ = await call(stack, scene.admin, two, {**broken, "id": gid(scene.ticket)})

    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["path"] == ["broken"], body
    assert body["data"]["broken"] is None
    assert body["data"]["fine"]["response"]["id"]
    after = await database_state(stack)
    assert after["counts"]["ticket_responses"] == before["counts"]["ticket_responses"] + 1


async def test_a_refused_mutation_does_not_hide_the_others_of_its_request(
    stack: Stack, scene: Scene
) -> None:
    """reply -> assign a colleague (refused for an agent) -> note: each outcome is reported,
    the reply and the note are saved."""
    request = """
    mutation($ticket: ID!, $colleague: ID!) {
      reply: addResponse(input: {ticketId: $ticket, body: "On it"}) {
        response { id } userErrors { code }
      }
      assign: assignTicket(input: {ticketId: $ticket, assigneeId: $colleague}) {
        ticket { id } userErrors { field code }
      }
      note: addResponse(input: {ticketId: $ticket, body: "Asked Aiden", internal: true}) {
        response { id isInternal } userErrors { code }
      }
    }
    """
    before = await database_state(stack)

    body, _ = await call(
        stack, scene.agent, request, {"ticket": gid(scene.ticket), "colleague": gid(scene.agent2)}
    )

    assert "errors" not in body, body
    data = body["data"]
    assert data["reply"]["userErrors"] == []
    assert data["reply"]["response"]["id"]
    assert data["assign"] == {
        "ticket": None,
        "userErrors": [{"field": "assigneeId", "code": "FORBIDDEN"}],
    }
    assert data["note"]["response"]["isInternal"] is True
    after = await database_state(stack)
    assert after["counts"]["ticket_responses"] == before["counts"]["ticket_responses"] + 2
