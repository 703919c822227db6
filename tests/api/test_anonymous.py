"""Anonymous HTTP callers: public fields answer, anything else is 401 like a bad token.

"Public" is derived from the schema: a root field without a permission class that needs an
authenticated caller. The first tests build throwaway schemas to show that a new field is
public (or not) by what it declares, with nothing listed by name anywhere.
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.permission import PermissionExtension

from permissions.fields import IsAdmin, IsAuthenticated, IsStaff
from schema import schema as helpdesk_schema
from server.anonymous import (
    AnonymousAccess,
    AuthenticationRequired,
    _remembered_root_fields,
    protected_root_fields,
)
from tests.conftest import Stack
from tests.graphql import assert_authentication_required, error_codes


@strawberry.type
class _Query:
    @strawberry.field
    def public_article(self) -> str:
        return "How to reset your password"

    @strawberry.field(permission_classes=[IsAuthenticated])
    def private(self) -> str:
        return "x"

    @strawberry.field(permission_classes=[IsStaff])
    def staff_only(self) -> str:
        return "x"

    @strawberry.field(extensions=[PermissionExtension(permissions=[IsAdmin()])])
    def admin_only(self) -> str:
        return "x"


@strawberry.type
class _Mutation:
    @strawberry.mutation
    def rate_article(self, stars: int) -> int:
        return stars

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    def edit_article(self) -> int:
        return 1


THROWAWAY = strawberry.Schema(query=_Query, mutation=_Mutation)


def test_public_fields_are_those_without_an_authentication_permission() -> None:
    assert protected_root_fields(THROWAWAY) == {
        "query": {"private", "staffOnly", "adminOnly"},
        "mutation": {"editArticle"},
    }


@pytest.mark.parametrize(
    ("document", "allowed"),
    [
        ("{ publicArticle }", True),
        ("mutation { rateArticle(stars: 5) }", True),
        ("{ __typename publicArticle __schema { queryType { name } } }", True),
        ("{ publicArticle private }", False),
        ("{ staffOnly }", False),
        ("{ adminOnly }", False),
        ("mutation { editArticle }", False),
        ("query { ...F } fragment F on _Query { private }", False),
        ("query { ... on _Query { staffOnly } }", False),
        (
            "query { ...A } fragment A on _Query { ...B } fragment B on _Query { ...A private }",
            False,
        ),
    ],
)
def test_the_check_reads_the_operation_that_would_run(document: str, allowed: bool) -> None:
    access = AnonymousAccess(THROWAWAY)

    if allowed:
        access.check(document, None)
    else:
        with pytest.raises(AuthenticationRequired):
            access.check(document, None)


def test_the_check_picks_the_named_operation() -> None:
    access = AnonymousAccess(THROWAWAY)
    document = "query Public { publicArticle } query Private { private }"

    access.check(document, "Public")
    with pytest.raises(AuthenticationRequired):
        access.check(document, "Private")
    # Which one would run is the schema's question: it answers that itself.
    access.check(document, None)
    access.check("{ not valid", None)


def test_in_the_helpdesk_schema_only_rate_limit_and_the_knowledge_base_are_public() -> None:
    protected = protected_root_fields(helpdesk_schema)
    query_fields = set(helpdesk_schema._schema.query_type.fields)
    mutations = helpdesk_schema._schema.mutation_type

    # The knowledge base is read by anonymous visitors of a help center (issue 13).
    assert query_fields - protected["query"] == {
        "rateLimit",
        "knowledgeBase",
        "article",
        "articleBySlug",
        "suggestArticles",
    }
    assert {"me", "node", "nodes", "ticket", "tickets", "ticketStats", "teams"} <= protected[
        "query"
    ]
    assert set(mutations.fields) - protected["mutation"] == {"recordArticleSuggestionOpened"}


# --- over HTTP -------------------------------------------------------------------------------


async def anonymously(db: Stack, query: str, **extra: Any) -> Any:
    async with db.client() as client:
        return await client.post("/graphql", json={"query": query, **extra})


@pytest.mark.parametrize(
    "query",
    [
        "{ __typename }",
        "{ __schema { queryType { name } } }",
        "{ rateLimit { limit remaining resetAt cost } }",
    ],
    ids=["typename", "introspection", "rate-limit"],
)
async def test_public_fields_answer_anonymous_callers(db: Stack, query: str) -> None:
    response = await anonymously(db, query)

    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text


@pytest.mark.parametrize(
    ("query", "operation"),
    [
        ("{ me { __typename } }", None),
        ("{ rateLimit { limit } me { __typename } }", None),
        ("query { ...Me } fragment Me on Query { me { __typename } }", None),
        ("query Pub { __typename } query Mine { tickets { totalCount } }", "Mine"),
        (
            'mutation { addResponse(input: {ticketId: "VGlja2V0OjE=", body: "x"}) { __typename } }',
            None,
        ),
    ],
    ids=["me", "public-beside-private", "in-a-fragment", "named-operation", "mutation"],
)
async def test_anything_else_is_401_like_a_bad_token(
    db: Stack, query: str, operation: str | None
) -> None:
    response = await anonymously(db, query, operationName=operation)

    assert_authentication_required(response)
    # No token at all: a challenge without an error code (RFC 6750 §3.1).
    assert response.headers["www-authenticate"] == 'Bearer realm="helpdesk"'


async def test_a_get_request_is_checked_alike(db: Stack) -> None:
    async with db.client() as client:
        private = await client.get("/graphql", params={"query": "{ me { __typename } }"})
        public = await client.get("/graphql", params={"query": "{ __typename }"})

    assert_authentication_required(private)
    assert public.json() == {
        "data": {"__typename": "Query"},
        "extensions": public.json()["extensions"],
    }


async def test_documents_that_do_not_validate_get_their_own_error(db: Stack) -> None:
    unknown = await anonymously(db, "{ tikets { totalCount } }")
    broken = await anonymously(db, "{ me { ")

    assert unknown.status_code == 200
    assert error_codes(unknown.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    assert error_codes(broken.json()) == ["GRAPHQL_PARSE_FAILED"]


def test_large_documents_are_checked_without_being_remembered() -> None:
    access = AnonymousAccess(THROWAWAY)
    padding = " ".join(f"a{i}: publicArticle" for i in range(600))
    large = f"{{ {padding} private }}"
    assert len(large) > 8_192
    remembered = _remembered_root_fields.cache_info().currsize

    with pytest.raises(AuthenticationRequired):
        access.check(large, None)
    access.check(f"{{ {padding} }}", None)

    assert _remembered_root_fields.cache_info().currsize == remembered
