"""Routing rules: the ordered rules admins set, applied to every new ticket."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import strawberry
from strawberry import relay

from models import Priority
from models import RoutingRule as RoutingRuleModel
from models import Team as TeamModel
from permissions.fields import IsAdmin, IsAuthenticated
from resolvers import routing
from resolvers.errors import UserErrorCode, user_error
from resolvers.ticket_write import UNSET as NOT_GIVEN
from schema.context import Info
from schema.enums import TicketPriority
from schema.people import Team
from schema.user_errors import UserError, given, input_id, optional_input_id, run_write


@strawberry.type(description="When a rule applies: every condition given must hold.")
class RoutingConditions:
    priorities: list[TicketPriority] = strawberry.field(
        description="The ticket has one of these priorities (empty: any)."
    )
    tags: list[str] = strawberry.field(description="The ticket has one of these tags.")
    title_words: list[str] = strawberry.field(
        description="The title contains one of these words (case-insensitive, whole words)."
    )
    companies: list[str] = strawberry.field(
        description="The customer's company is one of these (case-insensitive)."
    )


@strawberry.type(
    description=(
        "A routing rule of your organization: applied, in `position` order, to every new "
        "ticket. Its changes appear in history with the rule as the actor."
    )
)
class RoutingRule(relay.Node):
    id: relay.NodeID[int]
    name: str
    position: int = strawberry.field(description="Rules apply in ascending position.")
    add_tags: list[str] = strawberry.field(description="Tags the rule adds.")
    assign_round_robin: bool = strawberry.field(
        description=(
            "Assign the ticket (if unassigned) to the next active, signed-in member of its "
            "team, in turn."
        )
    )
    stop_processing: bool = strawberry.field(description="Later rules are skipped once it matched.")
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = strawberry.field(
        description="Set once deleted (history still names deleted rules)."
    )

    @strawberry.field(description="When the rule applies.")
    def conditions(self, root: strawberry.Parent[RoutingRuleModel]) -> RoutingConditions:
        found = routing.conditions_of(root)
        return RoutingConditions(
            priorities=[Priority(p) for p in found["priorities"]],
            tags=found["tags"],
            title_words=found["titleWords"],
            companies=found["companies"],
        )

    @strawberry.field(description="The team the rule routes to.", graphql_type=Team | None)
    async def set_team(
        self, root: strawberry.Parent[RoutingRuleModel], info: Info
    ) -> TeamModel | None:
        if root.set_team_id is None:
            return None
        return await info.context.loaders.team.load(root.set_team_id)

    @strawberry.field(description="The priority the rule sets.", graphql_type=TicketPriority | None)
    def set_priority(self, root: strawberry.Parent[RoutingRuleModel]) -> Priority | None:
        return None if root.set_priority is None else Priority(root.set_priority)

    @strawberry.field(description="Disabled rules are skipped.")
    def enabled(self, root: strawberry.Parent[RoutingRuleModel]) -> bool:
        return root.is_enabled

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, RoutingRuleModel)


@strawberry.input(description="A routing rule. On update, only the fields you send change.")
class RoutingRuleInput:
    name: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    priorities: list[TicketPriority] | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    title_words: list[str] | None = strawberry.UNSET
    companies: list[str] | None = strawberry.UNSET
    set_team_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="null: the rule sets no team."
    )
    set_priority: TicketPriority | None = strawberry.field(
        default=strawberry.UNSET, description="null: the rule sets no priority."
    )
    add_tags: list[str] | None = strawberry.UNSET
    assign_round_robin: bool | None = strawberry.UNSET
    stop_processing: bool | None = strawberry.UNSET

    def rule_input(self) -> routing.RuleInput:
        for name in (
            "name",
            "enabled",
            "priorities",
            "tags",
            "title_words",
            "companies",
            "add_tags",
            "assign_round_robin",
            "stop_processing",
        ):
            if getattr(self, name) is None:
                camel = name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
                raise user_error(camel, f"{camel} cannot be null", UserErrorCode.REQUIRED)
        team = self.set_team_id
        return routing.RuleInput(
            name=given(self.name, NOT_GIVEN),
            enabled=given(self.enabled, NOT_GIVEN),
            priorities=given(self.priorities, NOT_GIVEN),
            tags=given(self.tags, NOT_GIVEN),
            title_words=given(self.title_words, NOT_GIVEN),
            companies=given(self.companies, NOT_GIVEN),
            set_team_id=NOT_GIVEN if team is strawberry.UNSET else optional_input_id(team, "Team"),
            set_priority=given(self.set_priority, NOT_GIVEN),
            add_tags=given(self.add_tags, NOT_GIVEN),
            assign_round_robin=given(self.assign_round_robin, NOT_GIVEN),
            stop_processing=given(self.stop_processing, NOT_GIVEN),
        )


@strawberry.input(description="Change a routing rule.")
class UpdateRoutingRuleInput:
    id: relay.GlobalID
    rule: RoutingRuleInput


@strawberry.input(description="Delete a routing rule.")
class DeleteRoutingRuleInput:
    id: relay.GlobalID


@strawberry.input(description="The new order of all your organization's rules.")
class ReorderRoutingRulesInput:
    rule_ids: list[relay.GlobalID] = strawberry.field(description="Every rule, exactly once.")


@strawberry.type
class RoutingRulePayload:
    rule: RoutingRule | None
    user_errors: list[UserError]


@strawberry.type
class ReorderRoutingRulesPayload:
    rules: list[RoutingRule] | None
    user_errors: list[UserError]


@strawberry.type
class RoutingQuery:
    @strawberry.field(
        description="Admins: your organization's routing rules, in the order they apply.",
        graphql_type=list[RoutingRule] | None,
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def routing_rules(self, info: Info) -> Sequence[RoutingRuleModel]:
        ctx = info.context
        return await ctx.run(lambda s: routing.list_rules(s, ctx.actor))


@strawberry.type
class RoutingMutation:
    @strawberry.mutation(
        description="Admins: a new routing rule, applied after the others.",
        permission_classes=[IsAuthenticated],
    )
    async def create_routing_rule(
        self, info: Info, input: RoutingRuleInput
    ) -> RoutingRulePayload | None:
        ctx = info.context
        rule, errors = await run_write(
            info, lambda s: routing.create_rule(s, ctx.actor, input.rule_input())
        )
        return RoutingRulePayload(rule=rule, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Admins: change a routing rule.", permission_classes=[IsAuthenticated]
    )
    async def update_routing_rule(
        self, info: Info, input: UpdateRoutingRuleInput
    ) -> RoutingRulePayload | None:
        ctx = info.context
        rule_id = input_id(input.id, "RoutingRule")
        rule, errors = await run_write(
            info, lambda s: routing.update_rule(s, ctx.actor, rule_id, input.rule.rule_input())
        )
        return RoutingRulePayload(rule=rule, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Admins: delete a routing rule.", permission_classes=[IsAuthenticated]
    )
    async def delete_routing_rule(
        self, info: Info, input: DeleteRoutingRuleInput
    ) -> RoutingRulePayload | None:
        ctx = info.context
        rule_id = input_id(input.id, "RoutingRule")
        rule, errors = await run_write(info, lambda s: routing.delete_rule(s, ctx.actor, rule_id))
        return RoutingRulePayload(rule=rule, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Admins: the order in which routing rules apply.",
        permission_classes=[IsAuthenticated],
    )
    async def reorder_routing_rules(
        self, info: Info, input: ReorderRoutingRulesInput
    ) -> ReorderRoutingRulesPayload | None:
        ctx = info.context
        ids = [input_id(i, "RoutingRule") for i in input.rule_ids]
        rules, errors = await run_write(info, lambda s: routing.reorder_rules(s, ctx.actor, ids))
        return ReorderRoutingRulesPayload(
            rules=None if rules is None else list(rules),  # type: ignore[arg-type]
            user_errors=errors,
        )
