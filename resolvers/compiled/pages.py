"""Pages of a connection (tickets, a ticket's responses) and the dashboard counts, in SQL:
a window with a literal LIMIT size + 1 in the resolvers' keyset order, aggregated into
nodes/edges/pageInfo; totalCount and ticketStats as counts over the same builders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.selectable import Subquery

from models import Priority, Status
from permissions.actor import ActorKind
from resolvers.compiled.blocks import cursor, json_object, sort_column, text_literal
from resolvers.compiled.plan import (
    FieldPlan,
    PageArgs,
    Selection,
    SlotArgs,
)
from resolvers.pagination import SortKey

OPEN_STATUSES = ("open", "in_progress", "waiting_on_customer")
HIGH_PRIORITIES = ("high", "urgent")


class Pages:
    """The connection and aggregate half of the renderer (mixed into sql.Renderer)."""

    kind: ActorKind
    args: Sequence[SlotArgs]
    _aliases: int

    def source(self, type_name: str, by_id: bool = False) -> Subquery:
        raise NotImplementedError

    def obj(self, selection: Selection, row: Subquery) -> ColumnElement[Any]:
        raise NotImplementedError

    def ticket_stats(self, selection: Selection) -> ColumnElement[Any]:
        """resolvers.stats.ticket_stats in one aggregate over the readable tickets."""
        rows = self.source("Ticket")

        def count(*conditions: ColumnElement[bool]) -> ColumnElement[Any]:
            counted = func.count()
            return counted.filter(and_(*conditions)) if conditions else counted

        is_open = rows.c.status.in_([literal_column(f"'{s}'") for s in OPEN_STATUSES])
        totals: dict[str, ColumnElement[Any]] = {
            "total": count(),
            "open": count(rows.c.status == literal_column("'open'")),
            "inProgress": count(rows.c.status == literal_column("'in_progress'")),
            "waitingOnCustomer": count(rows.c.status == literal_column("'waiting_on_customer'")),
            "highPriority": count(
                is_open,
                rows.c.priority.in_([literal_column(f"'{p}'") for p in HIGH_PRIORITIES]),
            ),
            "unassigned": count(is_open, rows.c.assignee_id.is_(None)),
        }
        pairs: list[tuple[str, ColumnElement[Any]]] = []
        for f in selection.fields:
            if f.name == "__typename":
                pairs.append((f.key, text_literal("TicketStats")))
            elif f.name in totals:
                pairs.append((f.key, totals[f.name]))
            else:
                assert f.selection is not None
                column, values, type_name = (
                    ("status", [m.value for m in Status], "StatusCount")
                    if f.name == "byStatus"
                    else ("priority", [m.value for m in Priority], "PriorityCount")
                )
                items = []
                for value in values:
                    item: list[tuple[str, ColumnElement[Any]]] = []
                    for g in f.selection.fields:
                        if g.name == "__typename":
                            item.append((g.key, text_literal(type_name)))
                        elif g.name == "count":
                            item.append(
                                (g.key, count(rows.c[column] == literal_column(f"'{value}'")))
                            )
                        else:
                            item.append((g.key, text_literal(value.upper())))
                    items.append(json_object(item))
                pairs.append((f.key, func.json_build_array(*items)))
        return select(json_object(pairs)).select_from(rows).scalar_subquery()

    def connection(
        self,
        f: FieldPlan,
        type_name: str,
        key: SortKey,
        parent: Subquery | None,
        parent_column: str | None,
        make_source: Callable[[], Subquery] | None = None,
    ) -> ColumnElement[Any]:
        """A connection over the readable rows of `type_name` (or `make_source()`'s, a builder's
        rows with their sort value as `hd_sort` and pin as `hd_pin`) in `key` order."""
        assert f.selection is not None
        assert f.slot is not None
        args = self.args[f.slot]
        assert isinstance(args, PageArgs)

        def source() -> Subquery:
            return make_source() if make_source is not None else self.source(type_name)

        rows = source()

        def of_parent(source: Subquery) -> list[ColumnElement[bool]]:
            if parent is None or parent_column is None:
                return []
            return [source.c[parent_column] == parent.c.id]

        sort, row_id = sort_column(key, rows), rows.c.id
        pin = rows.c.hd_pin if "hd_pin" in rows.c else None
        columns = [sort, row_id] if pin is None else [pin, sort, row_id]
        conditions = of_parent(rows)
        for which, bound, forward in (("after", args.after, True), ("before", args.before, False)):
            if bound is None:
                continue
            value = bindparam(
                f"s{f.slot}_{which}_value",
                type_=DateTime(timezone=True) if key.timestamp else BigInteger,
            )
            limits = [value, bindparam(f"s{f.slot}_{which}_id", type_=BigInteger)]
            if pin is not None:
                limits.insert(0, bindparam(f"s{f.slot}_{which}_pin", type_=Integer))
            row, limit = tuple_(*columns), tuple_(*limits)
            conditions.append(row < limit if key.descending == forward else row > limit)
        descending = key.descending != args.backwards
        order = [c.desc() if descending else c.asc() for c in columns]
        position = func.row_number().over(order_by=order).label("hd_position")
        page_select = (
            select(rows, position)
            .where(*conditions)
            .order_by(*order)
            .limit(literal_column(str(args.size + 1)))
        )
        if parent is not None:
            page_select = page_select.correlate(parent)
        self._aliases += 1
        page = page_select.subquery(f"page_{self._aliases}")
        return self._connection_object(
            f.selection, type_name, key, args, page, parent, of_parent, source
        )

    def _connection_object(
        self,
        selection: Selection,
        type_name: str,
        key: SortKey,
        args: PageArgs,
        page: Subquery,
        parent: Subquery | None,
        of_parent: Callable[[Subquery], list[ColumnElement[bool]]],
        source: Callable[[], Subquery],
    ) -> ColumnElement[Any]:
        position = page.c.hd_position
        size: ColumnElement[Any] = literal_column(str(args.size))
        on_page = position <= size
        # Rows were fetched in reverse for `last`/`before`: the page reads oldest first.
        out = position.desc() if args.backwards else position.asc()
        back = position.asc() if args.backwards else position.desc()
        more = func.coalesce(func.bool_or(position > size), false())

        def aggregate(item: ColumnElement[Any]) -> ColumnElement[Any]:
            ordered = func.json_agg(aggregate_order_by(item, out)).filter(on_page)
            return func.coalesce(ordered, literal_column("'[]'::json"))

        pairs: list[tuple[str, ColumnElement[Any]]] = []
        for f in selection.fields:
            if f.name == "__typename":
                pairs.append((f.key, text_literal(selection.type_name)))
            elif f.name == "nodes":
                assert f.selection is not None
                pairs.append((f.key, aggregate(self.obj(f.selection, page))))
            elif f.name == "edges":
                assert f.selection is not None
                pairs.append((f.key, aggregate(self._edge(f.selection, key, page))))
            elif f.name == "totalCount":
                counted = source()
                total_select = select(func.count()).select_from(counted).where(*of_parent(counted))
                if parent is not None:
                    total_select = total_select.correlate(parent)
                total = total_select.scalar_subquery()
                pairs.append((f.key, total))
            elif f.name == "pageInfo":
                assert f.selection is not None
                first = _first_cursor(key, page, out, on_page)
                last = _first_cursor(key, page, back, on_page)
                info: list[tuple[str, ColumnElement[Any]]] = []
                for g in f.selection.fields:
                    if g.name == "__typename":
                        info.append((g.key, text_literal("PageInfo")))
                    elif g.name == "hasNextPage":
                        info.append(
                            (g.key, true() if args.before else false())
                            if args.backwards
                            else (g.key, more)
                        )
                    elif g.name == "hasPreviousPage":
                        info.append(
                            (g.key, more)
                            if args.backwards
                            else (g.key, true() if args.after else false())
                        )
                    elif g.name == "startCursor":
                        info.append((g.key, first))
                    elif g.name == "endCursor":
                        info.append((g.key, last))
                pairs.append((f.key, json_object(info)))
        connection = select(json_object(pairs))
        if any(f.name in ("nodes", "edges", "pageInfo") for f in selection.fields):
            # Aggregates over the page: one row, also for an empty page.
            connection = connection.select_from(page).correlate(page)
        return connection.scalar_subquery()

    def _edge(self, selection: Selection, key: SortKey, page: Subquery) -> ColumnElement[Any]:
        pairs: list[tuple[str, ColumnElement[Any]]] = []
        for f in selection.fields:
            if f.name == "__typename":
                pairs.append((f.key, text_literal(selection.type_name)))
            elif f.name == "cursor":
                pairs.append((f.key, cursor(key, page)))
            elif f.name == "node":
                assert f.selection is not None
                pairs.append((f.key, self.obj(f.selection, page)))
        return json_object(pairs)


def _first_cursor(key: SortKey, page: Subquery, order: Any, on_page: Any) -> ColumnElement[Any]:
    cursors = func.array_agg(aggregate_order_by(cursor(key, page), order)).filter(on_page)
    return cursors[1]
