// The GraphQL-over-HTTP audit suite (graphql-http's serverAudits) against a running server.
// Usage: node audit.mjs http://127.0.0.1:8000/graphql
// Exits 1 when any MUST (error) or SHOULD (warn) audit fails; MAY audits are only reported.
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs <graphql endpoint URL>");
  process.exit(2);
}

const results = await auditServer({ url });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  if (result.status === "ok") continue;
  let body = "";
  try {
    body = (await result.response.text()).slice(0, 300);
  } catch {
    // the body was read already
  }
  console.log(`${result.status.toUpperCase()} ${result.id} ${result.name}\n  ${result.reason}\n  ${body}`);
}
console.log(
  `graphql-http audit of ${url}: ${counts.ok} ok, ${counts.error} MUST failed, ` +
    `${counts.warn} SHOULD failed, ${counts.notice} MAY not met (of ${results.length})`,
);
process.exit(counts.error + counts.warn > 0 ? 1 : 0);
