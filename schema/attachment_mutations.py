"""createAttachmentUpload: the first step of the two-step upload."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry import relay

from models import Attachment as AttachmentModel
from permissions.fields import IsAuthenticated
from resolvers import attachment as attachments
from resolvers.attachment_transfer import upload_path
from schema.attachment import Attachment, absolute_url, attachment_files, attachment_policy
from schema.context import Info
from schema.user_errors import UserError, optional_input_id, run_write


@strawberry.input(description="Start uploading a file; then PUT its bytes to the uploadUrl.")
class CreateAttachmentUploadInput:
    ticket_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The ticket you will reply on with the file."
    )
    organization_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="Instead of ticketId: the organization of the ticket you will open with it.",
    )
    filename: str = strawberry.field(description="The file's name (a path is cut to its name).")
    content_type: str = strawberry.field(description="Its MIME type, e.g. image/png.")
    byte_size: int = strawberry.field(description="Its exact size in bytes.")
    checksum_sha256: str = strawberry.field(
        description="Its SHA-256 digest, as 64 hex digits or base64."
    )


@strawberry.type
class CreateAttachmentUploadPayload:
    attachment: Attachment | None = strawberry.field(
        description="The pending attachment; pass its id in attachmentIds once uploaded."
    )
    upload_url: str | None = strawberry.field(
        description="PUT the file's bytes here (exactly byteSize bytes, matching the checksum)."
    )
    upload_url_expires_at: dt.datetime | None = strawberry.field(
        description="When uploadUrl stops working."
    )
    user_errors: list[UserError]


@strawberry.type
class AttachmentMutation:
    @strawberry.mutation(
        description=(
            "Start uploading a file for a reply (ticketId) or a new ticket (organizationId). "
            "PUT the bytes to uploadUrl, then pass the attachment's id in attachmentIds of "
            "addResponse or createTicket. Unattached uploads expire."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def create_attachment_upload(
        self, info: Info, input: CreateAttachmentUploadInput
    ) -> CreateAttachmentUploadPayload | None:
        actor = info.context.actor
        files = attachment_files(info)
        policy = attachment_policy(info)
        data = attachments.CreateUploadInput(
            filename=input.filename,
            content_type=input.content_type,
            byte_size=input.byte_size,
            checksum_sha256=input.checksum_sha256,
            ticket_id=optional_input_id(input.ticket_id, "Ticket"),
            organization_id=optional_input_id(input.organization_id, "Organization"),
        )
        created: AttachmentModel | None
        created, errors = await run_write(
            info, lambda s: attachments.create_upload(s, actor, policy, data)
        )
        if created is None:
            return CreateAttachmentUploadPayload(
                attachment=None, upload_url=None, upload_url_expires_at=None, user_errors=errors
            )
        url, expires = (None, None)
        if files is not None:
            path, expires_at = upload_path(files, created)
            url = absolute_url(info, path)
            expires = dt.datetime.fromtimestamp(expires_at, dt.UTC)
        return CreateAttachmentUploadPayload(
            attachment=created,  # type: ignore[arg-type]
            upload_url=url,
            upload_url_expires_at=expires,
            user_errors=[],
        )
