"""The template library's pages (issue 16) in headless Chromium: an operator creates a template and edits it (a
new version), an approver pre-approves it, the operator archives it and the composer no longer offers it; a bad
template is refused with the problem named."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_create_edit_preapprove_and_archive_a_template(make_user, new_context, login):
    operator_email, _ = make_user("operator")
    approver_email, _ = make_user("approver")
    page = new_context().new_page()
    login(page, operator_email)
    page.get_by_role("navigation", name="Główna nawigacja").get_by_role("link", name="Szablony").click()
    expect(page.locator("#template-list")).to_contain_text("Powódź")  # the shipped library
    page.locator("#new-template").click()

    page.get_by_label("Nazwa").fill("Awaria wodociagu")
    page.get_by_label("Zagrożenie (krótki klucz, np. flood)").fill("water_main")
    page.get_by_label("Tekst (polski)").fill("Awaria wodociagu: {zones}. Beczkowozy: {place}.")
    page.get_by_label("Tekst (angielski)").fill("Water main burst: {zones}. Water tanks: {place}.")
    page.get_by_label("Tekst (ukraiński)").fill("Аварія водогону: {zones}. Цистерни: {street}.")
    page.locator("#save-template").click()
    expect(page.locator(".flash-error")).to_contain_text("{street}")  # the unknown placeholder, named
    page.get_by_label("Tekst (ukraiński)").fill("Аварія водогону: {zones}. Цистерни: {place}.")
    page.locator("#save-template").click()
    expect(page.locator("#template-status")).to_contain_text("Wersja 1")
    url = page.url

    page.get_by_label("Nazwa").fill("Awaria sieci wodociagowej")
    page.locator("#save-template").click()
    expect(page.locator("#template-status")).to_contain_text("Wersja 2")
    expect(page.locator("#template-versions tbody tr")).to_have_count(2)

    approver = new_context().new_page()
    login(approver, approver_email)
    approver.goto(url)
    expect(approver.locator("#save-template")).to_have_count(0)  # approvers read, operators write
    approver.locator("#preapprove-template").click()
    expect(approver.locator("#template-status")).to_contain_text("zatwierdzony wstępnie")

    page.goto(url)
    page.locator("#archive-template").click()
    expect(page).to_have_url(re.compile(r"/templates/$"))
    expect(page.locator("#template-list")).not_to_contain_text("Awaria sieci wodociagowej")
    page.goto("/campaigns/new")
    expect(page.locator("#hazard-template-options option")).to_have_count(11)  # the shipped ones only
