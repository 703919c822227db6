"""Ticket history in the GitHub timeline style: an interface, one type per kind of change.

Each entry is one `ticket_history` row; its type comes from `resolvers.history.entry_kind`, its
typed values are decoded from the stored text. Global ids stay `HistoryEntry:<id>` whatever
the entry's type, so ids handed out before the types existed still work with `node(id)`.
The generic text fields of the first release (`action`, `field`, `oldValue`, `newValue`) stay
for one more release, deprecated.

Values are named after what they hold (`fromStatus`/`toStatus`, `fromAssignee`/`toAssignee`),
not a shared `from`/`to`: GraphQL refuses a document in which one response name has different
types in different fragments ("Fields 'from' conflict..."), so a timeline query selecting
several types' values would need an alias for each.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from models import Attachment as AttachmentModel
from models import RoutingRule as RoutingRuleModel
from models import Status
from models import Team as TeamModel
from models import TeamMember as TeamMemberModel
from models import TicketHistory as TicketHistoryModel
from models import TicketResponse as TicketResponseModel
from models.enums import ActorType, HistoryField, Priority
from permissions.fields import IsStaff
from resolvers.history import (
    EntryKind,
    changed_field,
    entry_kind,
    stored_id,
    stored_json,
    tags_diff,
)
from schema.attachment import Attachment
from schema.context import Info
from schema.enums import HistoryAction, TicketPriority, TicketStatus
from schema.ids import encode_id
from schema.people import Customer, Person, Team, TeamMember, load_person
from schema.routing import RoutingRule

if TYPE_CHECKING:
    from schema.ticket import Response

TicketField = strawberry.enum(
    HistoryField, name="TicketField", description="A ticket field whose changes history records."
)

# History stores database ids; the deprecated text fields give the usual opaque ids instead.
REFERENCE_FIELDS = {
    "assignee": "TeamMember",
    "team": "Team",
    "response": "Response",
    "attachment": "Attachment",
}
TYPED = "Select the entry's type instead (e.g. `... on StatusChanged { fromStatus toStatus }`)."


def _history_value(field_name: str | None, value: str | None) -> str | None:
    type_name = REFERENCE_FIELDS.get(field_name or "")
    if type_name is None or value is None or not value.isdigit():
        return value
    return str(encode_id(type_name, int(value)))


@strawberry.enum(description="What kind of automatic change this was.")
class SystemActorKind(enum.Enum):
    ROUTING_RULE = "routing_rule"
    SYSTEM = "system"


@strawberry.type(
    description=(
        "A change the helpdesk made by itself: a routing rule applied to a new ticket, or "
        "another automatic change."
    )
)
class SystemActor:
    kind: SystemActorKind
    rule_id: strawberry.Private[int | None]

    @strawberry.field(
        description=(
            "The routing rule that made the change (also once deleted). Staff only: null for "
            "customers, who see only that routing did it."
        ),
        graphql_type=RoutingRule | None,
    )
    async def routing_rule(self, info: Info) -> RoutingRuleModel | None:
        if self.rule_id is None or not info.context.actor.is_staff:
            return None
        return await info.context.loaders.routing_rule.load(self.rule_id)


HistoryActor = Annotated[
    Customer | TeamMember | SystemActor,
    strawberry.union("HistoryActor", description="Who made a change."),
]


@strawberry.interface(
    name="HistoryEntry",
    description=(
        "One change to a ticket: who and when, and in the entry's type what changed "
        "(StatusChanged, Assigned, ResponseAdded, ...)."
    ),
)
class HistoryEntry(relay.Node):
    id: relay.NodeID[int]
    is_internal: bool = strawberry.field(
        description="Staff-only entries (internal notes, metadata). Never sent to customers."
    )
    created_at: dt.datetime = strawberry.field(description="When it happened.")
    kind: ClassVar[EntryKind]

    @strawberry.field(
        description="The ticket field this entry changed; null for Created, ResponseAdded, "
        "NoteAdded and AttachmentAdded.",
        graphql_type=TicketField | None,
    )
    def changed_field(self, root: strawberry.Parent[TicketHistoryModel]) -> HistoryField | None:
        return changed_field(root)

    @strawberry.field(
        description=(
            "Who did it: a person; null for the system and routing rules (see performedBy)."
        ),
        graphql_type=Person | None,
    )
    async def actor(self, root: strawberry.Parent[TicketHistoryModel], info: Info) -> Any:
        return await load_person(info, root.actor_type, root.actor_id)

    @strawberry.field(
        description="Who did it: a Customer, a TeamMember, or the helpdesk itself (SystemActor).",
        graphql_type=HistoryActor,
    )
    async def performed_by(self, root: strawberry.Parent[TicketHistoryModel], info: Info) -> Any:
        if root.actor_type is ActorType.ROUTING_RULE:
            return SystemActor(kind=SystemActorKind.ROUTING_RULE, rule_id=root.actor_id)
        person = await load_person(info, root.actor_type, root.actor_id)
        return person or SystemActor(kind=SystemActorKind.SYSTEM, rule_id=None)

    @strawberry.field(
        description=(
            "The reply or note this entry is about (ResponseAdded, NoteAdded, AttachmentAdded), "
            "if any."
        ),
        graphql_type=Annotated["Response", strawberry.lazy("schema.ticket")] | None,
    )
    async def response(
        self, root: strawberry.Parent[TicketHistoryModel], info: Info
    ) -> TicketResponseModel | None:
        if root.field_name != "response":
            return None
        response_id = stored_id(root.new_value)
        if response_id is None:
            return None
        return await info.context.loaders.visible_response.load(response_id)

    @strawberry.field(description="What happened.", deprecation_reason=TYPED)
    def action(self, root: strawberry.Parent[TicketHistoryModel]) -> HistoryAction:
        return root.action

    @strawberry.field(
        name="field",
        description="The field that changed (status, priority, assignee, ...).",
        deprecation_reason="Use changedField (an enum), or the entry's type.",
    )
    def field_name(self, root: strawberry.Parent[TicketHistoryModel]) -> str | None:
        return root.field_name

    @strawberry.field(
        description=(
            "The value before, as text: enum values in lower case, tags and metadata as JSON, "
            "and the global id for assignee, team, response and attachment."
        ),
        deprecation_reason=TYPED,
    )
    def old_value(self, root: strawberry.Parent[TicketHistoryModel]) -> str | None:
        return _history_value(root.field_name, root.old_value)

    @strawberry.field(
        description="The value after, as text (see oldValue).", deprecation_reason=TYPED
    )
    def new_value(self, root: strawberry.Parent[TicketHistoryModel]) -> str | None:
        return _history_value(root.field_name, root.new_value)

    @classmethod
    def resolve_typename(cls, root: Any, info: Any) -> str:
        # Ids stay HistoryEntry:<id> for every type of entry.
        return "HistoryEntry"

    @classmethod
    def resolve_type(cls, obj: Any, info: Any, abstract_type: Any) -> str:
        return ENTRY_TYPES[entry_kind(obj)]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, TicketHistoryModel) and entry_kind(obj) is cls.kind


@strawberry.type(description="The ticket was opened.")
class Created(HistoryEntry):
    kind = EntryKind.CREATED


@strawberry.type(description="The title changed.")
class TitleChanged(HistoryEntry):
    kind = EntryKind.TITLE_CHANGED

    @strawberry.field(description="The title before.")
    def from_title(self, root: strawberry.Parent[TicketHistoryModel]) -> str:
        return root.old_value or ""

    @strawberry.field(description="The title after.")
    def to_title(self, root: strawberry.Parent[TicketHistoryModel]) -> str:
        return root.new_value or ""


@strawberry.type(description="The description changed.")
class DescriptionChanged(HistoryEntry):
    kind = EntryKind.DESCRIPTION_CHANGED

    @strawberry.field(description="The description before.")
    def from_description(self, root: strawberry.Parent[TicketHistoryModel]) -> str:
        return root.old_value or ""

    @strawberry.field(description="The description after.")
    def to_description(self, root: strawberry.Parent[TicketHistoryModel]) -> str:
        return root.new_value or ""


@strawberry.type(description="The status moved.")
class StatusChanged(HistoryEntry):
    kind = EntryKind.STATUS_CHANGED

    @strawberry.field(description="The status before.", graphql_type=TicketStatus)
    def from_status(self, root: strawberry.Parent[TicketHistoryModel]) -> Status:
        return Status(root.old_value or "")

    @strawberry.field(description="The status after.", graphql_type=TicketStatus)
    def to_status(self, root: strawberry.Parent[TicketHistoryModel]) -> Status:
        return Status(root.new_value or "")


@strawberry.type(description="The priority changed.")
class PriorityChanged(HistoryEntry):
    kind = EntryKind.PRIORITY_CHANGED

    @strawberry.field(description="The priority before.", graphql_type=TicketPriority)
    def from_priority(self, root: strawberry.Parent[TicketHistoryModel]) -> Priority:
        return Priority(root.old_value or "")

    @strawberry.field(description="The priority after.", graphql_type=TicketPriority)
    def to_priority(self, root: strawberry.Parent[TicketHistoryModel]) -> Priority:
        return Priority(root.new_value or "")


async def _member(info: Info, value: str | None) -> TeamMemberModel | None:
    member_id = stored_id(value)
    return None if member_id is None else await info.context.loaders.team_member.load(member_id)


async def _team(info: Info, value: str | None) -> TeamModel | None:
    team_id = stored_id(value)
    return None if team_id is None else await info.context.loaders.team.load(team_id)


@strawberry.type(
    description=(
        "The assignee changed. Customers see the members' names and pictures; their emails "
        "stay staff-only (TeamMember.email)."
    )
)
class Assigned(HistoryEntry):
    kind = EntryKind.ASSIGNED

    @strawberry.field(description="Assigned before; null: nobody.", graphql_type=TeamMember | None)
    async def from_assignee(
        self, root: strawberry.Parent[TicketHistoryModel], info: Info
    ) -> TeamMemberModel | None:
        return await _member(info, root.old_value)

    @strawberry.field(description="Assigned now; null: nobody.", graphql_type=TeamMember | None)
    async def to_assignee(
        self, root: strawberry.Parent[TicketHistoryModel], info: Info
    ) -> TeamMemberModel | None:
        return await _member(info, root.new_value)


@strawberry.type(description="The ticket was routed to another team.")
class TeamChanged(HistoryEntry):
    kind = EntryKind.TEAM_CHANGED

    @strawberry.field(description="The team before; null: none.", graphql_type=Team | None)
    async def from_team(
        self, root: strawberry.Parent[TicketHistoryModel], info: Info
    ) -> TeamModel | None:
        return await _team(info, root.old_value)

    @strawberry.field(description="The team after; null: none.", graphql_type=Team | None)
    async def to_team(
        self, root: strawberry.Parent[TicketHistoryModel], info: Info
    ) -> TeamModel | None:
        return await _team(info, root.new_value)


@strawberry.type(description="Tags were added or removed.")
class TagsChanged(HistoryEntry):
    kind = EntryKind.TAGS_CHANGED

    @strawberry.field(description="Tags the ticket gained.")
    def added(self, root: strawberry.Parent[TicketHistoryModel]) -> list[str]:
        return tags_diff(root)[0]

    @strawberry.field(description="Tags the ticket lost.")
    def removed(self, root: strawberry.Parent[TicketHistoryModel]) -> list[str]:
        return tags_diff(root)[1]


@strawberry.type(description="The staff-only metadata changed. Staff only.")
class MetadataChanged(HistoryEntry):
    kind = EntryKind.METADATA_CHANGED

    @strawberry.field(
        description="The metadata before.",
        permission_classes=[IsStaff],
        graphql_type=JSON | None,
    )
    def from_metadata(self, root: strawberry.Parent[TicketHistoryModel]) -> Any:
        return stored_json(root.old_value)

    @strawberry.field(
        description="The metadata after.", permission_classes=[IsStaff], graphql_type=JSON | None
    )
    def to_metadata(self, root: strawberry.Parent[TicketHistoryModel]) -> Any:
        return stored_json(root.new_value)


@strawberry.type(description="A public reply was added (see response).")
class ResponseAdded(HistoryEntry):
    kind = EntryKind.RESPONSE_ADDED


@strawberry.type(description="An internal note was added (see response). Staff only.")
class NoteAdded(HistoryEntry):
    kind = EntryKind.NOTE_ADDED


async def _attachment(info: Info, root: TicketHistoryModel) -> AttachmentModel | None:
    attachment_id = stored_id(root.new_value)
    if attachment_id is None:
        return None
    found: AttachmentModel | None = await info.context.loaders.visible_attachment.load(
        attachment_id
    )
    return found


@strawberry.type(
    description=(
        "A file was attached to the ticket (when it was opened), a reply or a note. Staff only "
        "when the note is internal."
    )
)
class AttachmentAdded(HistoryEntry):
    kind = EntryKind.ATTACHMENT_ADDED

    @strawberry.field(
        description="The file; null when you may not see it.", graphql_type=Attachment | None
    )
    async def attachment(
        self, root: strawberry.Parent[TicketHistoryModel], info: Info
    ) -> AttachmentModel | None:
        return await _attachment(info, root)

    @strawberry.field(
        description=(
            "The reply or note the file came with; null for the files a ticket was opened "
            "with, and when you may not see it."
        ),
        graphql_type=Annotated["Response", strawberry.lazy("schema.ticket")] | None,
    )
    async def response(
        self, root: strawberry.Parent[TicketHistoryModel], info: Info
    ) -> TicketResponseModel | None:
        file = await _attachment(info, root)
        if file is None or file.response_id is None:
            return None
        return await info.context.loaders.visible_response.load(file.response_id)


HISTORY_TYPES: tuple[type[HistoryEntry], ...] = (
    Created,
    TitleChanged,
    DescriptionChanged,
    StatusChanged,
    PriorityChanged,
    Assigned,
    TeamChanged,
    TagsChanged,
    MetadataChanged,
    ResponseAdded,
    NoteAdded,
    AttachmentAdded,
)
ENTRY_TYPES: dict[EntryKind, str] = {t.kind: t.__name__ for t in HISTORY_TYPES}
