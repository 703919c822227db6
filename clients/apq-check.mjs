// Apollo Client 4's persisted query link against a running server, the way an app uses it:
// the first request sends only the hash, gets PERSISTED_QUERY_NOT_FOUND, and is retried with
// the query; later requests send only the hash; with useGETForHashedQueries over GET.
// Usage: node apq-check.mjs http://127.0.0.1:8000/graphql
import { createHash, randomUUID } from "node:crypto";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const url = process.argv[2];
if (!url) {
  console.error("usage: node apq-check.mjs <graphql endpoint URL>");
  process.exit(2);
}

function sha256(text) {
  return createHash("sha256").update(text).digest("hex");
}

async function check(useGETForHashedQueries) {
  const sent = [];
  const recordingFetch = async (input, init) => {
    const response = await fetch(input, init);
    const target = new URL(typeof input === "string" ? input : input.url);
    const body = init && typeof init.body === "string" ? JSON.parse(init.body) : {};
    const hasQuery = Boolean(body.query || target.searchParams.get("query"));
    sent.push(`${init?.method ?? "GET"} ${hasQuery ? "query+hash" : "hash"} ${response.status}`);
    return response;
  };
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: new PersistedQueryLink({ sha256, useGETForHashedQueries }).concat(
      new HttpLink({ uri: url, fetch: recordingFetch }),
    ),
  });
  // A document of its own (a fresh alias: comments are not sent), unknown to the server.
  const alias = `t${randomUUID().replaceAll("-", "")}`;
  const query = gql(`query ApqCheck { ${alias}: __typename }`);
  const first = await client.query({ query, fetchPolicy: "network-only" });
  const second = await client.query({ query, fetchPolicy: "network-only" });
  const method = useGETForHashedQueries ? "GET" : "POST";
  const expected = [`${method} hash 404`, "POST query+hash 200", `${method} hash 200`];
  const ok =
    first.data?.[alias] === "Query" &&
    second.data?.[alias] === "Query" &&
    JSON.stringify(sent) === JSON.stringify(expected);
  console.log(`${ok ? "ok  " : "FAIL"} useGETForHashedQueries=${useGETForHashedQueries}: ${sent.join(", ")}`);
  return ok;
}

const results = [await check(false), await check(true)];
process.exit(results.every(Boolean) ? 0 : 1);
