"""The live dashboard in a real browser: right numbers, live events within a second, a
customer sees only their own tickets, and a reconnect resumes without missing an event."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import DemoServer, another_server

pytestmark = pytest.mark.e2e

AGENT = "bob@acme.example.com"
CUSTOMER = "erin@customer.example.com"
STATS = "{ ticketStats { open inProgress waitingOnCustomer highPriority unassigned total } }"
CARDS = {
    "open": "stat-open",
    "inProgress": "stat-in-progress",
    "waitingOnCustomer": "stat-waiting",
    "highPriority": "stat-high-priority",
    "unassigned": "stat-unassigned",
    "total": "stat-total",
}
REPLY = """
mutation($id: ID!, $body: String!) {
  addResponse(input: {ticketId: $id, body: $body}) { userErrors { code } }
}
"""
TAGS = """
mutation($id: ID!, $tags: [String!]!) {
  updateTicket(input: {id: $id, tags: $tags}) { userErrors { code } }
}
"""
ERINS_TICKET = 7  # demo ticket #7 is Erin's; #2 belongs to another customer
OTHER_TICKET = 2


def ticket_id(number: int) -> str:
    return base64.b64encode(f"Ticket:{number}".encode()).decode()


def open_dashboard(browser: Any, server: DemoServer, email: str) -> None:
    browser.get(f"{server.base}/dashboard#token={server.token(email)}")
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "status").get_attribute("data-state") == "live"
    )


def cards(browser: Any) -> dict[str, int | None]:
    values = {key: browser.find_element(By.ID, id_).text for key, id_ in CARDS.items()}
    return {key: int(v) if v.isdigit() else None for key, v in values.items()}


def wait_for_cards(browser: Any, expected: dict[str, int], within: float = 5) -> None:
    WebDriverWait(browser, within).until(lambda b: cards(b) == expected)


def feed_tickets(browser: Any) -> list[int]:
    items = browser.find_elements(By.CSS_SELECTOR, "#feed li")
    return [int(item.get_attribute("data-ticket")) for item in items]


def wait_for_event(browser: Any, number: int, count: int = 1, within: float = 1.0) -> None:
    WebDriverWait(browser, within, poll_frequency=0.05).until(
        lambda b: feed_tickets(b).count(number) >= count
    )


def severe_console_messages(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_agent_sees_the_numbers_and_live_events(browser: Any, demo: DemoServer) -> None:
    server = demo
    expected = server.graphql(AGENT, STATS)["ticketStats"]
    open_dashboard(browser, server, AGENT)
    wait_for_cards(browser, expected)
    who = browser.find_element(By.ID, "who").text

    # Another client changes a ticket: it shows in the feed within a second.
    server.graphql(CUSTOMER, REPLY, {"id": ticket_id(ERINS_TICKET), "body": "Any news?"})
    wait_for_event(browser, ERINS_TICKET)
    item = browser.find_element(By.CSS_SELECTOR, "#feed li")
    after = server.graphql(AGENT, STATS)["ticketStats"]
    wait_for_cards(browser, after)
    console = severe_console_messages(browser)

    assert who == "Bob Agent (agent, Acme Support)"
    assert item.get_attribute("data-kind") == "RESPONSE_ADDED"
    assert "Erin" in item.text
    assert console == []


def test_customer_sees_only_their_own_tickets(browser: Any, demo: DemoServer) -> None:
    server = demo
    expected = server.graphql(CUSTOMER, STATS)["ticketStats"]
    everything = server.graphql(AGENT, STATS)["ticketStats"]
    open_dashboard(browser, server, CUSTOMER)
    wait_for_cards(browser, expected)

    server.graphql(AGENT, TAGS, {"id": ticket_id(OTHER_TICKET), "tags": ["not-erins"]})
    server.graphql(AGENT, REPLY, {"id": ticket_id(ERINS_TICKET), "body": "Fixed for you"})
    wait_for_event(browser, ERINS_TICKET)
    shown = feed_tickets(browser)
    who = browser.find_element(By.ID, "who").text

    assert expected["total"] < everything["total"]
    assert who == "Erin Customer (customer)"
    # The other customer's ticket changed first, yet never reached Erin's page.
    assert shown == [ERINS_TICKET]


def test_a_reconnect_resumes_after_the_last_event(browser: Any, demo: DemoServer) -> None:
    server = demo
    try:
        open_dashboard(browser, server, AGENT)
        server.graphql(AGENT, REPLY, {"id": ticket_id(ERINS_TICKET), "body": "before"})
        wait_for_event(browser, ERINS_TICKET)

        server.stop()
        WebDriverWait(browser, 10).until(
            lambda b: b.find_element(By.ID, "status").get_attribute("data-state") != "live"
        )
        # Changed while the page is disconnected (by another instance on the same database).
        with another_server(server) as other:
            other.graphql(AGENT, REPLY, {"id": ticket_id(OTHER_TICKET), "body": "while away"})
        server.start()

        WebDriverWait(browser, 30).until(
            lambda b: b.find_element(By.ID, "status").get_attribute("data-state") == "live"
        )
        wait_for_event(browser, OTHER_TICKET, within=10)
        server.graphql(AGENT, REPLY, {"id": ticket_id(ERINS_TICKET), "body": "after"})
        wait_for_event(browser, ERINS_TICKET, count=2)
        shown = feed_tickets(browser)
        cursors = [
            int(li.get_attribute("data-cursor"))
            for li in browser.find_elements(By.CSS_SELECTOR, "#feed li")
        ]
    finally:
        server.start_if_stopped()

    assert shown == [ERINS_TICKET, OTHER_TICKET, ERINS_TICKET]
    assert cursors == sorted(cursors, reverse=True)
    assert len(set(cursors)) == 3
