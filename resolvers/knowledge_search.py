"""Full-text search over articles, on both engines, with highlighted snippets.

PostgreSQL: a weighted tsvector (title A, body B) in the configured text-search language,
ranked by ts_rank, snippets by ts_headline. SQLite: the FTS5 table of migration 0011 (porter
stemming, bm25 with the title weighted 10:1), snippets by snippet(); where the library has no
FTS5, LIKE over title and body, ranked by where the words occur.

Callers always combine `SearchPlan.condition` with the caller's visibility, and snippets are
only ever computed for rows that passed it (the page's rows), from the article body, which
every reader of the article may read.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import Article
from resolvers.errors import BadUserInputError

SEARCH_MAX = 500
WORDS_MAX = 32
DEFAULT_LANGUAGE = "english"
# Snippet highlight markers: control characters article texts may not contain (validated on
# write), replaced by <mark> once the snippet is HTML-escaped.
START, STOP = "\x02", "\x03"
RANK_SCALE = 1_000_000
_WORD = re.compile(r"[^\W_]+")
_LANGUAGE = re.compile(r"^[a-z_]{1,63}$")

FTS = table("kb_article_search", column("rowid"), column("title"), column("body"))
_fts5: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()
_forced_like: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()


def search_words(text_: str) -> list[str]:
    """The words of a search text (letters and digits), lower-cased, without repeats."""
    if len(text_) > SEARCH_MAX:
        raise BadUserInputError(f"search must be at most {SEARCH_MAX} characters")
    words: list[str] = []
    for word in _WORD.findall(text_.lower()):
        if word not in words:
            words.append(word)
    return words[:WORDS_MAX]


def checked_language(language: str) -> str:
    """A text-search configuration name safe to inline (it must be inlined for the index)."""
    if not _LANGUAGE.match(language):
        raise ValueError(f"not a text search configuration name: {language!r}")
    return language


def search_vector(language: str) -> ColumnElement[Any]:
    """The expression of migration 0011's GIN index (for 'english')."""
    cfg = f"'{checked_language(language)}'::regconfig"
    return literal_column(
        f"setweight(to_tsvector({cfg}, kb_articles.title), 'A') || "
        f"setweight(to_tsvector({cfg}, kb_articles.body), 'B')"
    )


async def search_engine(session: AsyncSession) -> str:
    """ "postgresql", "fts5" or "like" for the session's database."""
    bind = session.get_bind()
    engine = bind.engine if hasattr(bind, "engine") else bind
    if engine in _forced_like:
        return "like"
    if bind.dialect.name == "postgresql":
        return "postgresql"
    found = _fts5.get(engine)  # type: ignore[arg-type]
    if found is None:
        found = bool(
            await session.scalar(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'kb_article_search'")
            )
        )
        _fts5[engine] = found  # type: ignore[index]
    return "fts5" if found else "like"


def force_like_fallback(engine: AsyncEngine, on: bool) -> None:
    """Tests: make an engine search with the fallback (as an SQLite without FTS5 does); it
    runs on PostgreSQL too."""
    if on:
        _forced_like[engine.sync_engine] = True
    else:
        _forced_like.pop(engine.sync_engine, None)


@dataclass(frozen=True)
class SearchPlan:
    """How to find and rank articles matching some words on one engine."""

    engine: str
    words: tuple[str, ...]
    any_word: bool
    language: str = DEFAULT_LANGUAGE

    def _config(self) -> ColumnElement[Any]:
        return literal_column(f"'{checked_language(self.language)}'::regconfig")

    def _tsquery(self) -> ColumnElement[Any]:
        cfg = self._config()
        joined = (" | " if self.any_word else " & ").join(self.words)
        return func.to_tsquery(cfg, literal(joined))

    def _fts_query(self) -> str:
        quoted = [f'"{w}"' for w in self.words]
        return (" OR " if self.any_word else " ").join(quoted)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        """`statement` (over kb_articles) narrowed to the matching articles."""
        if self.engine == "postgresql":
            return statement.where(search_vector(self.language).op("@@")(self._tsquery()))
        if self.engine == "fts5":
            return statement.join(FTS, FTS.c.rowid == Article.id).where(
                literal_column("kb_article_search").op("MATCH")(self._fts_query())
            )
        likes = [self._like_any(word) for word in self.words]
        return statement.where(or_(*likes) if self.any_word else and_(*likes))

    def rank(self) -> ColumnElement[int]:
        """A non-negative integer, larger for better matches (integers page exactly)."""
        if self.engine == "postgresql":
            score = func.ts_rank(search_vector(self.language), self._tsquery(), 1)
            return cast(score * RANK_SCALE, BigInteger)
        if self.engine == "fts5":
            bm25 = func.bm25(literal_column("kb_article_search"), 10.0, 1.0)
            return cast(-bm25 * RANK_SCALE, Integer)
        parts: list[Any] = []
        for word in self.words:
            parts.append(
                case((func.lower(Article.title).contains(word, autoescape=True), 3), else_=0)
            )
            parts.append(
                case((func.lower(Article.body).contains(word, autoescape=True), 1), else_=0)
            )
        total: Any = parts[0]
        for part in parts[1:]:
            total = total + part
        return cast(total, Integer)

    def snippet(self) -> ColumnElement[str] | None:
        """The engine's highlighted excerpt of the body (None: made in Python, `like`)."""
        if self.engine == "postgresql":
            cfg: ColumnElement[Any] = literal_column(
                f"'{checked_language(self.language)}'::regconfig"
            )
            options = (
                f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12, "
                'MaxFragments=2, FragmentDelimiter=" … "'
            )
            return func.ts_headline(cfg, Article.body, self._tsquery(), literal(options))
        if self.engine == "fts5":
            return func.snippet(literal_column("kb_article_search"), 1, START, STOP, "…", 24)
        return None

    @staticmethod
    def _like_any(word: str) -> ColumnElement[bool]:
        return or_(
            func.lower(Article.title).contains(word, autoescape=True),
            func.lower(Article.body).contains(word, autoescape=True),
        )


def python_snippet(body: str, words: tuple[str, ...], width: int = 160) -> str:
    """The fallback's excerpt: the text around the first word found, words marked."""
    lowered = body.lower()
    hits = [i for i in (lowered.find(w) for w in words) if i >= 0]
    start = max(0, min(hits) - width // 3) if hits else 0
    excerpt = body[start : start + width]
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
    if pattern is not None:
        excerpt = pattern.sub(lambda m: f"{START}{m.group(0)}{STOP}", excerpt)
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(body) else ""
    return prefix + excerpt + suffix


def snippet_html(raw: str) -> str:
    """A snippet made safe to show: escaped, with matched words in <mark>."""
    escaped = html.escape(raw.replace(START, "\x00s").replace(STOP, "\x00e"), quote=False)
    return escaped.replace("\x00s", "<mark>").replace("\x00e", "</mark>")


async def snippets_for(
    session: AsyncSession, plan: SearchPlan, visible: ColumnElement[bool], ids: list[int]
) -> dict[int, str]:
    """Highlighted snippets of the given articles, for those the caller may read only."""
    if not ids:
        return {}
    expression = plan.snippet()
    if expression is None:
        rows = await session.execute(
            select(Article.id, Article.body).where(Article.id.in_(ids), visible)
        )
        return {i: snippet_html(python_snippet(b, plan.words)) for i, b in rows}
    statement = plan.apply(
        select(Article.id, expression).where(Article.id.in_(ids), visible)  # type: ignore[arg-type]
    )
    rows = await session.execute(statement)
    return {i: snippet_html(s or "") for i, s in rows}
