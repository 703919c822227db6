"""Documents and helpers of the knowledge-base tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from models import Article, ArticleLink, KnowledgeBaseCategory, KnowledgeBaseChange, SuggestionOpen
from tests.conftest import Stack
from tests.graphql import execute, global_id

ARTICLE_FIELDS = """
  id title slug body bodyHtml state visibility tags version publishedAt
  category { name } author { name }
"""
CREATE = f"""
mutation($input: CreateArticleInput!) {{
  createArticle(input: $input) {{
    article {{ {ARTICLE_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""
UPDATE = f"""
mutation($input: UpdateArticleInput!) {{
  updateArticle(input: $input) {{
    article {{ {ARTICLE_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""
PUBLISH = """
mutation($id: ID!, $v: Int) {
  publishArticle(input: {id: $id, expectedVersion: $v}) {
    article { id state version publishedAt }
    userErrors { field code message }
  }
}
"""
ARCHIVE = """
mutation($id: ID!, $v: Int) {
  archiveArticle(input: {id: $id, expectedVersion: $v}) {
    article { id state version }
    userErrors { field code message }
  }
}
"""
CREATE_CATEGORY = """
mutation($input: CategoryInput!) {
  createKnowledgeBaseCategory(input: $input) {
    category { id name slug parent { name } }
    userErrors { field code message }
  }
}
"""
UPDATE_CATEGORY = """
mutation($input: UpdateCategoryInput!) {
  updateKnowledgeBaseCategory(input: $input) {
    category { id name slug parent { name } }
    userErrors { field code message }
  }
}
"""
ARTICLE = f"query($id: ID!) {{ article(id: $id) {{ {ARTICLE_FIELDS} }} }}"
HISTORY = """
query($id: ID!) {
  article(id: $id) {
    history {
      version action changedFields title body previousTitle previousBody state
      editor { name }
    }
  }
}
"""
BY_SLUG = """
query($org: ID!, $slug: String!) { articleBySlug(organizationId: $org, slug: $slug) { title } }
"""
LIST = """
query($org: ID!, $filter: ArticleFilter, $first: Int, $after: String) {
  knowledgeBase(organizationId: $org) {
    organization { name }
    categories { name slug parent { name } }
    articles(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor snippet node { title state visibility } }
    }
  }
}
"""
SUGGEST = """
query($org: ID!, $text: String!, $first: Int) {
  suggestArticles(organizationId: $org, text: $text, first: $first) {
    snippet article { id title }
  }
}
"""
OPENED = """
mutation($id: ID!) {
  recordArticleSuggestionOpened(input: {articleId: $id}) {
    article { title }
    userErrors { field code }
  }
}
"""


def gid(type_name: str, pk: int) -> str:
    return global_id(type_name, pk)


async def call(db: Stack, subject: str | None, document: str, **variables: Any) -> dict[str, Any]:
    """One operation as `subject` (a user id; None: anonymous): the body."""
    async with db.client(db.token(subject) if subject else None) as client:
        return await execute(client, document, variables)


async def ok(db: Stack, subject: str | None, document: str, **variables: Any) -> dict[str, Any]:
    """One operation that must answer without errors: its data's only root value."""
    body = await call(db, subject, document, **variables)
    assert "errors" not in body, body
    (value,) = body["data"].values()
    if isinstance(value, dict) and "userErrors" in value:
        assert value["userErrors"] == [], value
    return value  # type: ignore[no-any-return]


async def write_article(db: Stack, subject: str, **values: Any) -> dict[str, Any]:
    payload = await ok(db, subject, CREATE, input={"title": "An article", **values})
    article: dict[str, Any] = payload["article"]
    return article


async def kb_state(db: Stack) -> dict[str, Any]:
    """Everything a refused knowledge-base write must leave alone."""
    async with db.sessionmaker() as session:
        articles = (await session.scalars(select(Article).order_by(Article.id))).all()
        categories = (
            await session.scalars(select(KnowledgeBaseCategory).order_by(KnowledgeBaseCategory.id))
        ).all()
        counts = {
            m.__tablename__: await session.scalar(select(func.count()).select_from(m))
            for m in (KnowledgeBaseChange, SuggestionOpen, ArticleLink)
        }
        return {
            "articles": [
                (a.id, a.title, a.body, a.state, a.visibility, a.category_id, a.version, a.slug)
                for a in articles
            ],
            "categories": [(c.id, c.name, c.slug, c.parent_id, c.position) for c in categories],
            "counts": counts,
        }
