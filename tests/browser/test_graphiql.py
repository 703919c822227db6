"""GraphiQL in a real browser, with no internet: it renders from the packaged assets, runs a
query with the token from its Headers tab, and streams a subscription over graphql-ws."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import DemoServer

pytestmark = pytest.mark.e2e

AGENT = "bob@acme.example.com"
REPLY = """
mutation($id: ID!) { addResponse(input: {ticketId: $id, body: "from GraphiQL test"}) {
  userErrors { code } } }
"""


def result_text(browser: Any) -> str:
    panes = browser.find_elements(By.CSS_SELECTOR, ".graphiql-response")
    return panes[0].text if panes else ""


def open_graphiql(
    browser: Any, server: DemoServer, query: str | None = None, operation: str | None = None
) -> None:
    """GraphiQL with the agent's token typed into the Headers tab (and a query, if given, whose
    `operation` GraphiQL has taken as the one to run)."""
    browser.get(f"{server.base}/graphql")
    WebDriverWait(browser, 20).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".graphiql-editor-tool .CodeMirror")
    )
    headers = json.dumps({"Authorization": f"Bearer {server.token(AGENT)}"})
    # GraphiQL's editors are CodeMirror 5 instances: set their text as typing would.
    browser.execute_script(
        "const tool = document.querySelector("
        "  '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');"
        "tool.CodeMirror.setValue(arguments[0]);"
        "if (arguments[1]) document.querySelector('.graphiql-query-editor .CodeMirror')"
        "  .CodeMirror.setValue(arguments[1]);",
        headers,
        query,
    )
    if operation is not None:
        # GraphiQL picks the operation to run from its tab state, which follows an edit a moment
        # later: executing before then sends the previous document's operation name.
        WebDriverWait(browser, 10).until(
            lambda b: (
                b.execute_script(
                    "const s = JSON.parse(localStorage.getItem('graphiql:tabState') || 'null');"
                    "return s && s.tabs[s.activeTabIndex].operationName;"
                )
                == operation
            )
        )


def loaded_resources(browser: Any) -> list[str]:
    urls: list[str] = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return urls


def test_graphiql_renders_offline_and_runs_the_example(browser: Any, demo: DemoServer) -> None:
    open_graphiql(browser, demo)
    editor = browser.find_element(By.CSS_SELECTOR, ".graphiql-query-editor").text
    browser.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    WebDriverWait(browser, 10).until(lambda b: "Bob Agent" in result_text(b))
    result = result_text(browser)
    resources = loaded_resources(browser)
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]

    assert "query FirstLook" in editor
    assert "Authorization" in editor  # the header hint
    assert '"ticketStats"' in result
    assert resources, "the page loaded no assets?"
    assert [url for url in resources if not url.startswith(demo.base)] == []
    assert severe == []


def test_graphiql_streams_a_subscription(browser: Any, demo: DemoServer) -> None:
    open_graphiql(
        browser, demo, "subscription Watch { ticketEvents { kind ticket { number } } }", "Watch"
    )
    browser.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    ticket = base64.b64encode(b"Ticket:7").decode()
    # The page shows nothing until the first event, so write until one streams in (the first
    # writes may land before the socket has subscribed).
    for _ in range(10):
        demo.graphql(AGENT, REPLY, {"id": ticket})
        try:
            WebDriverWait(browser, 1).until(lambda b: "RESPONSE_ADDED" in result_text(b))
            break
        except TimeoutException:
            continue
    result = result_text(browser)

    assert "RESPONSE_ADDED" in result
    assert '"number": 7' in result
