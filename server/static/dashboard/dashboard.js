// The live dashboard: stats cards and a feed of ticket events, built only on the public
// GraphQL API over graphql-ws. Every event carries a cursor; after a reconnect the feed
// resubscribes with `after: <last cursor>`, so the server replays what was missed and
// nothing is lost or shown twice.
(function () {
  "use strict";

  const ME = `query DashboardMe {
    me {
      __typename
      ... on Customer { id name }
      ... on TeamMember { id name role organization { id name } }
    }
  }`;
  const STATS = `subscription DashboardStats {
    ticketStats(intervalMs: 250) { total open inProgress waitingOnCustomer highPriority unassigned }
  }`;
  const EVENTS = `subscription DashboardEvents($after: String) {
    ticketEvents(after: $after) {
      cursor kind occurredAt
      ticket { id number title status priority }
      changes { id action field oldValue newValue actor { __typename ... on Customer { id name } ... on TeamMember { id name } } }
    }
  }`;
  const FEED_LIMIT = 100;
  const CARDS = {
    open: "stat-open",
    inProgress: "stat-in-progress",
    waitingOnCustomer: "stat-waiting",
    highPriority: "stat-high-priority",
    unassigned: "stat-unassigned",
  };

  const $ = (id) => document.getElementById(id);
  const wsUrl = new URL("graphql", window.location.href);
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";
  wsUrl.search = "";
  wsUrl.hash = "";

  let client = null;
  let stopEvents = null;
  let stopStats = null;
  let lastCursor = null;
  let connections = 0;

  function setStatus(text, state) {
    const status = $("status");
    status.textContent = text;
    status.dataset.state = state;
  }

  function personName(person) {
    return person ? person.name : "system";
  }

  function describe(event) {
    const changes = event.changes
      .map((c) => (c.field ? `${c.field}: ${c.oldValue ?? "–"} → ${c.newValue ?? "–"}` : c.action))
      .join(", ");
    const who = event.changes.length ? personName(event.changes[0].actor) : "";
    return `${event.kind.toLowerCase().replace("_", " ")} by ${who}${changes ? " · " + changes : ""}`;
  }

  function addEvent(event) {
    if (lastCursor !== null && BigInt(event.cursor) <= BigInt(lastCursor)) return; // seen
    lastCursor = event.cursor;
    const item = document.createElement("li");
    item.dataset.cursor = event.cursor;
    item.dataset.ticket = String(event.ticket.number);
    item.dataset.kind = event.kind;
    const title = document.createElement("strong");
    title.textContent = `#${event.ticket.number} ${event.ticket.title}`;
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = `${event.ticket.status} · ${event.ticket.priority}`;
    const detail = document.createElement("div");
    detail.className = "detail";
    detail.textContent = describe(event);
    const time = document.createElement("time");
    time.dateTime = event.occurredAt;
    time.textContent = new Date(event.occurredAt).toLocaleTimeString();
    item.append(title, badge, detail, time);
    const feed = $("feed");
    feed.prepend(item);
    while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
    $("feed-empty").hidden = true;
  }

  function showStats(stats) {
    for (const [field, id] of Object.entries(CARDS)) $(id).textContent = String(stats[field]);
    $("stat-total").textContent = String(stats.total);
  }

  function showError(errors) {
    const message = (errors && errors[0] && errors[0].message) || String(errors);
    setStatus(`error: ${message}`, "error");
  }

  // One subscription; `next` gets each payload's data. Returns a function that stops it.
  function run(query, variables, next) {
    return client.subscribe(
      { query, variables },
      {
        next: (result) => (result.errors ? showError(result.errors) : next(result.data)),
        error: (error) => {
          if (!(error instanceof CloseEvent)) showError(error);
        },
        complete: () => {},
      },
    );
  }

  function subscribeEvents() {
    if (stopEvents) stopEvents();
    stopEvents = run(EVENTS, { after: lastCursor }, (data) => addEvent(data.ticketEvents));
  }

  function connect(token) {
    if (client) client.dispose();
    lastCursor = null;
    connections = 0;
    $("feed").replaceChildren();
    $("feed-empty").hidden = false;
    setStatus("connecting…", "connecting");
    client = graphqlWs.createClient({
      url: wsUrl.toString(),
      connectionParams: { Authorization: `Bearer ${token}` },
      retryAttempts: Infinity,
      // 0.5 s, 1 s, 2 s, then every 3 s, with jitter so that many pages do not reconnect at once.
      retryWait: (retries) =>
        new Promise((resolve) =>
          setTimeout(resolve, Math.min(3000, 500 * 2 ** retries) * (0.75 + Math.random() / 2)),
        ),
      // A refused or expired token needs a new one; anything else is retried with backoff.
      shouldRetry: (event) => !(event && (event.code === 4401 || event.code === 4403)),
      keepAlive: 10000,
      on: {
        connected: () => {
          connections += 1;
          setStatus("live", "live");
          if (connections > 1) subscribeEvents(); // resume after the last event we showed
        },
        closed: (event) => {
          if (event && (event.code === 4401 || event.code === 4403)) {
            setStatus(`token refused (${event.code}): ${event.reason || "sign in again"}`, "error");
          } else if (client) {
            setStatus("reconnecting…", "connecting");
          }
        },
      },
    });
    run(ME, {}, (data) => {
      const me = data.me;
      $("who").textContent = !me
        ? "anonymous"
        : me.__typename === "Customer"
          ? `${me.name} (customer)`
          : `${me.name} (${me.role.toLowerCase()}, ${me.organization.name})`;
    });
    if (stopStats) stopStats();
    stopStats = run(STATS, {}, (data) => showStats(data.ticketStats));
    subscribeEvents();
  }

  // A token passed in the URL fragment (never sent to the server) is used, then removed.
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const fromFragment = fragment.get("token");
  if (fromFragment) history.replaceState(null, "", window.location.pathname);

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) connect(token);
  });
  if (fromFragment) {
    $("token").value = fromFragment;
    connect(fromFragment);
  }
})();
