"""``GET /api/v1/docs``: the API page, drawn on the server from the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from movieclassifier.web import openapi, security
from servers import gunicorn_server, settings_env


def _section(page: str, path: str, method: str) -> str:
    """The page's part about one operation (from its heading to the next section)."""
    heading = f"<code>{method.upper()} {escape(path)}</code></h2>"
    assert heading in page, f"{method.upper()} {path} has no heading"
    return page.split(heading, 1)[1].split("</section>", 1)[0]


def _document(app) -> dict:
    return openapi.document(app.extensions["movieclassifier.settings"])


def test_the_page_shows_every_path_and_method_of_the_document(client, app):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    document = _document(app)
    schemas = document["components"]["schemas"]
    operations = [(p, m, spec) for p, ops in document["paths"].items() for m, spec in ops.items()]
    assert len(operations) >= 7
    for path, method, spec in operations:
        section = _section(page, path, method)
        assert escape(spec["summary"]) in section
        if "description" in spec:
            assert escape(spec["description"]) in section
        for status, answer in spec["responses"].items():
            assert f"<strong>{status}</strong>: {escape(answer['description'])}" in section
        body = spec.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            name = body["schema"]["$ref"].rsplit("/", 1)[-1]
            for field in schemas[name]["properties"]:
                assert f"<code>{field}</code>" in section, f"{path}: {field}"
    # Every schema the answers refer to has its own part of the page.
    for name, schema in schemas.items():
        part = page.split(f'id="schema-{name}"', 1)[1].split("</section>", 1)[0]
        for field in schema.get("properties", {}):
            assert f"<code>{field}</code>" in part, f"{name}: {field}"


def test_the_page_carries_the_configured_rules(make_app):
    page = make_app(max_batch=7, max_review_chars=500).test_client().get("/api/v1/docs")
    section = _section(page.get_data(as_text=True), "/api/v1/predict", "post")
    assert "at most 7 items" in section
    assert "at most 500 characters" in section
    assert "Exactly one of: review; reviews" in section


def test_the_page_has_the_security_headers_and_loads_nothing_from_elsewhere(client):
    response = client.get("/api/v1/docs")
    for name, value in security.HEADERS.items():
        assert response.headers[name] == value
    assert "Retry-After" not in response.headers
    page = response.get_data(as_text=True)
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links and all(link.startswith(("/", "#")) for link in links), links
    assert "<script>" not in page  # no inline script: the page needs none


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_reads_in_a_browser_without_javascript(settings, engine, tmp_path, browser):
    from playwright.sync_api import expect

    from browser import ARTIFACTS, TIMEOUT_MS

    document = openapi.document(settings)
    count = sum(len(ops) for ops in document["paths"].values())
    with gunicorn_server(settings_env(settings), tmp_path / "gunicorn.log", workers=1) as url:
        context = browser.new_context(java_script_enabled=False)
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            problems: list[str] = []
            page.on("console", lambda message: problems.append(message.text))
            page.on("requestfailed", lambda request: problems.append(request.url))
            page.goto(f"{url}/api/v1/docs")
            expect(page.locator("section.api-operation h2")).to_have_count(count)
            expect(page.get_by_role("heading", name="POST /api/v1/predict")).to_be_visible()
            page.get_by_role("link", name="POST /api/v1/feedback").click()
            expect(page).to_have_url(re.compile(r"#post-api-v1-feedback$"))
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "api-docs.png", full_page=True)
            assert problems == []
        finally:
            context.close()
