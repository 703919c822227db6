"""Attachments: the type, and the mutation that starts an upload.

Bytes never travel in GraphQL: `createAttachmentUpload` answers with a signed upload URL
(`PUT` the file there), and `Attachment.url` with a signed download URL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry import relay

from models import Attachment as AttachmentModel
from models import Customer as CustomerModel
from models import TeamMember as TeamMemberModel
from models.enums import AuthorType
from resolvers.attachment_policy import AttachmentPolicy
from resolvers.attachment_transfer import AttachmentFiles, download_path
from resolvers.errors import BadUserInputError
from schema.context import Info
from schema.people import Person

URL_TTL_DEFAULT = 300
URL_TTL_MAX = 3600


def attachment_files(info: Info) -> AttachmentFiles | None:
    """The storage, signer and limits of this server (None where no server is attached)."""
    return getattr(info.context.services, "attachment_files", None)


def attachment_policy(info: Info) -> AttachmentPolicy:
    files = attachment_files(info)
    return files.policy if files is not None else AttachmentPolicy()


def absolute_url(info: Info, path: str) -> str:
    """`path` on this server's public address: PUBLIC_URL, else the request's own."""
    base = getattr(info.context.services, "public_url", None)
    if not base:
        request = info.context.request
        base = str(request.base_url) if request is not None else ""
        if base.startswith("ws"):
            base = "http" + base[2:]
    return base.rstrip("/") + path


@strawberry.type(
    name="Attachment",
    description=(
        "A file on a ticket, a reply or an internal note. Visible exactly when what it is "
        "attached to is: customers never see an internal note's files."
    ),
)
class Attachment(relay.Node):
    id: relay.NodeID[int]
    filename: str = strawberry.field(description="The file's name (no path, sanitized).")
    content_type: str = strawberry.field(
        description="The type sniffed from the file's bytes (the declared one until uploaded)."
    )
    byte_size: int = strawberry.field(description="Size in bytes.")
    created_at: dt.datetime = strawberry.field(description="When the upload was started.")

    @strawberry.field(
        description=(
            "A short-lived signed download URL for you (default 300 s, at most 3600). It is "
            "re-checked when used: it stops working if you lose access. Null until the file "
            "is attached."
        )
    )
    def url(
        self,
        root: strawberry.Parent[AttachmentModel],
        info: Info,
        expires_in: int = URL_TTL_DEFAULT,
    ) -> str | None:
        if not 1 <= expires_in <= URL_TTL_MAX:
            raise BadUserInputError(f"expiresIn must be between 1 and {URL_TTL_MAX} seconds")
        files = attachment_files(info)
        actor = info.context.actor
        if files is None or root.attached_at is None or actor.id is None:
            return None
        return absolute_url(info, download_path(files, root, actor, expires_in))

    @strawberry.field(
        description="Who uploaded it: the customer or a team member.", graphql_type=Person | None
    )
    async def uploaded_by(
        self, root: strawberry.Parent[AttachmentModel], info: Info
    ) -> CustomerModel | TeamMemberModel | None:
        loaders = info.context.loaders
        if root.uploader_type is AuthorType.CUSTOMER:
            return await loaders.customer.load(root.uploader_id)
        return await loaders.team_member.load(root.uploader_id)

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, AttachmentModel)


async def response_attachments(info: Info, response_id: int) -> list[AttachmentModel]:
    found: list[AttachmentModel] = await info.context.loaders.response_attachments.load(response_id)
    return found


async def ticket_attachments(info: Info, ticket_id: int) -> list[AttachmentModel]:
    found: list[AttachmentModel] = await info.context.loaders.ticket_attachments.load(ticket_id)
    return found
