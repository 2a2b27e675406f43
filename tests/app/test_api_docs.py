"""/api/docs: Swagger UI from node_modules over the OpenAPI document, for anyone (no token, no login), under
the app's Content-Security-Policy."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_the_api_docs_show_the_operations_without_a_login_and_without_csp_violations(page):
    console, errors = [], []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto("/api/docs")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    post = page.locator(".opblock-post", has=page.locator(".opblock-summary-path", has_text="/api/v1/campaigns"))
    post.first.wait_for()
    assert post.first.locator(".opblock-summary-method").inner_text() == "POST"
    tags = page.locator(".opblock-tag").all_inner_texts()
    assert any("zones" in t.lower() for t in tags) and any("campaigns" in t.lower() for t in tags)
    # An operation opens with its parameters and answers.
    post.first.locator(".opblock-summary").click()
    page.locator(".opblock-post.is-open .responses-wrapper").first.wait_for()
    assert errors == []
    assert [m for m in console if "Content Security Policy" in m or "Refused to" in m] == []


def test_the_page_says_where_the_document_is_without_javascript(new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/api/docs")
    link = page.get_by_role("link", name="/api/v1/openapi.json")
    assert link.is_visible()


def test_only_the_files_the_page_needs_are_served_from_the_package(app):
    client = app.test_client()

    def status(path: str) -> int:
        with client.get(path) as response:
            return response.status_code

    assert status("/api/docs/vendor/swagger-ui-bundle.js") == 200
    assert status("/api/docs/vendor/swagger-ui.css") == 200
    # The package's own index.html runs an inline script and its OAuth page reads tokens from the URL.
    assert status("/api/docs/vendor/index.html") == 404
    assert status("/api/docs/vendor/oauth2-redirect.html") == 404
    assert status("/api/v1/openapi.json") == 200
