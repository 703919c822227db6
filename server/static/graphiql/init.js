// GraphiQL for the Helpdesk API, served with all its assets by the API itself (no CDN).
// HTTP for queries and mutations; graphql-ws (graphql-transport-ws) for subscriptions, with
// the Headers tab sent as the connection_init payload, the way the server expects a token.
(function () {
  "use strict";

  const httpUrl = new URL(window.location.href);
  httpUrl.search = "";
  httpUrl.hash = "";
  const wsUrl = new URL(httpUrl);
  wsUrl.protocol = httpUrl.protocol === "https:" ? "wss:" : "ws:";

  const EXAMPLE_QUERY = `# Helpdesk API
#
# Sign in: open the Headers tab below and paste
#
#   {"Authorization": "Bearer <token>"}
#
# \`make run\` printed tokens for the demo users;
# \`helpdesk token EMAIL\` prints a fresh one.
# GraphiQL keeps headers in this browser's
# localStorage (Settings > Clear storage).
#
# Run with Ctrl-Enter. Subscriptions stream in
# over WebSocket with the same headers.

query FirstLook {
  me {
    __typename
    ... on Customer { id name email }
    ... on TeamMember { id name role organization { id name } }
  }
  ticketStats { total open inProgress waitingOnCustomer highPriority unassigned }
  tickets(first: 5) {
    totalCount
    nodes { id number title status priority updatedAt }
  }
}
`;

  // One WebSocket client per set of headers: new headers (another token) mean a new connection.
  let wsClient = null;
  let wsHeaders = null;
  function wsClientFor(headers) {
    const key = JSON.stringify(headers || {});
    if (wsClient === null || key !== wsHeaders) {
      if (wsClient !== null) wsClient.dispose();
      wsHeaders = key;
      wsClient = graphqlWs.createClient({
        url: wsUrl.toString(),
        connectionParams: headers || {},
        lazy: true,
        retryAttempts: 0,
      });
    }
    return wsClient;
  }

  function fetcher(params, options) {
    const headers = (options && options.headers) || {};
    return GraphiQL.createFetcher({ url: httpUrl.toString(), wsClient: wsClientFor(headers) })(
      params,
      options,
    );
  }

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: EXAMPLE_QUERY,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();
