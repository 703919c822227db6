"""Prometheus metrics of the event pipeline: subscriptions, deliveries, drops, fan-out lag.

Gauges use the `livesum` mode, so that with `--workers N` (prometheus-client's multiprocess
mode, see server/metrics.py) a scrape shows the sum over the running workers.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SUBSCRIPTIONS = Gauge(
    "helpdesk_subscriptions",
    "Subscriptions (ticketEvents, ticketStats) open in the event hub.",
    multiprocess_mode="livesum",
)
EVENTS_DELIVERED = Counter(
    "helpdesk_events_delivered_total",
    "Committed changes queued to a subscriber (before its own policies filter them).",
)
EVENTS_DROPPED = Counter(
    "helpdesk_events_dropped",
    "Changes not delivered: a subscriber that fell too far behind (it is disconnected and "
    "resumes with `after`), a full outbox or inbox, a malformed announcement.",
    ["reason"],
)
ANNOUNCEMENTS = Counter(
    "helpdesk_event_announcements",
    "Announcements of committed changes to other instances, by result (ok, failed, skipped "
    "while the broadcast is down).",
    ["result"],
)
FANOUT_LAG = Histogram(
    "helpdesk_event_fanout_lag_seconds",
    "From a change's commit to its delivery into this instance's subscriber queues.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BROADCAST_CONNECTED = Gauge(
    "helpdesk_broadcast_connected",
    "1 when this worker's broadcast (Redis) listener is connected; the lowest over workers.",
    multiprocess_mode="livemin",
)
