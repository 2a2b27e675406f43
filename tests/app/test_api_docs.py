"""/api/docs: Swagger UI from node_modules over the OpenAPI document, for anyone (no token, no login), under
the app's Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


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


def test_the_api_docs_pass_axe_core_wcag_2_1_aa(new_context):
    # axe is injected as an inline script, which the page's CSP rightly refuses: this context ignores the CSP.
    page = new_context(bypass_csp=True).new_page()
    page.goto("/api/docs")
    page.locator(".opblock").first.wait_for()
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("tags => axe.run(document, {runOnly: tags})", WCAG_21_AA)
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]] == []


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
