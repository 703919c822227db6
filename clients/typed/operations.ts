// Uses the generated types the way a client would, under `tsc --strict`: a schema change that
// removes or retypes a field these operations read fails the type check.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";

import {
  AdminDashboardDocument,
  FirstLookDocument,
  LiveDocument,
  LiveStatsDocument,
  OpenDocument,
  QueueDocument,
  type AdminDashboardQuery,
  type FilesQuery,
  type FirstLookQuery,
  type LiveSubscription,
  type LiveStatsSubscription,
  type OpenMutation,
  type OpenMutationVariables,
  type QueueQuery,
  type QueueQueryVariables,
  type TicketStatus,
} from "../generated/graphql";

type Person = { __typename: "Customer" | "TeamMember"; name: string };

function personName(person: Person | null | undefined): string {
  if (!person) return "nobody";
  return person.__typename === "Customer" ? `${person.name} (customer)` : person.name;
}

export function greeting(result: FirstLookQuery): string {
  const me = result.me;
  if (!me) return "signed out";
  return me.__typename === "Customer" ? `Hello ${me.name} <${me.email}>` : `${me.name}, ${me.role}`;
}

export function latestReplies(result: FirstLookQuery): string[] {
  return (result.ticket?.responses.nodes ?? []).map(
    (reply) => `${personName(reply.author)}: ${reply.body}${reply.isInternal ? " (internal)" : ""}`,
  );
}

export function queueRows(result: QueueQuery): Array<[number, string, TicketStatus]> {
  // Query roots are nullable (null with an error at that path): no list, no rows.
  return (result.tickets?.nodes ?? []).map((t) => [t.number, t.title, t.status]);
}

export const queueVariables: QueueQueryVariables = { team: "VGVhbTox", after: null };

export function openedNumber(result: OpenMutation): number | null {
  const payload = result.createTicket;
  if (!payload || payload.userErrors.length > 0) return null;
  return payload.ticket?.number ?? null;
}

export const openVariables: OpenMutationVariables = { org: "T3JnYW5pemF0aW9uOjE=" };

export function busiestTeam(result: AdminDashboardQuery): string | null {
  const [top] = [...(result.metrics?.byTeam ?? [])].sort((a, b) => b.count - a.count);
  return top?.team?.name ?? null;
}

export function describeEvent(result: LiveSubscription): string {
  const event = result.ticketEvents;
  const who = event.changes.map((change) => personName(change.actor)).join(", ");
  return `#${event.ticket.number} ${event.kind} by ${who} at ${event.occurredAt} (${event.cursor})`;
}

export function openCount(result: LiveStatsSubscription): number {
  return result.ticketStats.open + result.ticketStats.inProgress;
}

// The documents are typed: an Apollo/urql client infers results and variables from them.
export const documents: Array<TypedDocumentNode<unknown, never>> = [
  FirstLookDocument,
  QueueDocument,
  OpenDocument,
  AdminDashboardDocument,
  LiveDocument,
  LiveStatsDocument,
] as Array<TypedDocumentNode<unknown, never>>;

export function downloadLinks(result: FilesQuery): Array<[string, string | null]> {
  // `url` is null until the file is attached; a link expires after `expiresIn` seconds.
  return (result.ticket?.attachments ?? []).map((file) => [file.filename, file.url]);
}
