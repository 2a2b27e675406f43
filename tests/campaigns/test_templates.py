"""The hazard template library (issue 16, campaigns.templates): shipped templates, versions, archive,
placeholders, campaigns made from a template, and pre-approval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from campaigns import composition, templates
from campaigns import service as campaigns
from campaigns.exceptions import InvalidCampaign, InvalidTemplate, TemplateForbidden, TemplateNotFound
from syrena_core.accounts import User
from syrena_core.config import CampaignSettings
from tests.factories import ZONE_A, ZONE_B, create_zone

NOW = datetime(2026, 12, 7, 14, 5, tzinfo=UTC)  # 15:05 in Poznań
VALUES = {
    "until": "18:00",
    "phone": "61 878 50 00",
    "place": "SP 12, ul. Dluga 5",
    "details": "Jan Kowalski, 78 lat, 170 cm, siwe wlosy, czarna kurtka",
}
APPROVAL = CampaignSettings(require_approval=True)
SKIPPING = CampaignSettings(require_approval=True, preapproved_templates_skip_approval=True)


def _user(db, make_user, role: str) -> User:
    email, _token = make_user(role)
    return db.scalar(select(User).where(User.email == email))


def _flood(db):
    return next(t for t in templates.list_templates(db) if t.hazard == "flood")


def _mine(**extra) -> dict:
    return {
        "name": "Awaria wodociagu",
        "hazard": "water_main",
        "texts": {"pl": "Awaria wodociagu: {zones}.", "en": "Water main burst: {zones}.", "uk": "Аварія: {zones}."},
        "cap": {"event": "Awaria wodociągu", "category": "Infra", "severity": "moderate"},
        **extra,
    }


def test_every_shipped_hazard_has_pl_en_uk_texts_within_two_sms_parts_once_filled(db):
    library = templates.list_templates(db)
    assert sorted(t.hazard for t in library) == sorted(templates.HAZARDS)
    assert set(templates.HAZARDS) == {
        "flood", "storm", "heat", "frost", "gas", "water", "chemical", "outage", "evacuation", "missing", "all_clear"
    }  # fmt: skip
    values = {**composition.standard_values(["Stare Miasto", "Wilda"], "", NOW, "Europe/Warsaw"), **VALUES}
    for template in library:
        shown = templates.template_json(template)
        assert set(shown["texts"]) >= {"pl", "en", "uk"}, shown
        assert shown["version"] == 1 and not shown["preapproved"] and shown["shipped"]
        assert {"event", "category", "severity", "urgency", "certainty", "response_type", "instruction"} <= set(
            shown["cap"]
        )
        for language, body in shown["texts"].items():
            analysis = composition.analyse(composition.render_template(body, values))
            assert analysis.parts <= 2, (template.hazard, language, analysis)
        # Polish without diacritics: GSM 7-bit, 160 characters a part (one ą would make it UCS-2, 70 a part)
        assert composition.analyse(shown["texts"]["pl"]).encoding == "gsm7", template.hazard


def test_the_flood_template_asks_whether_residents_are_safe_in_issue_15s_shape(db):
    question = templates.template_json(_flood(db))["question"]
    assert question["reply_minutes"] == 720
    assert [(a["key"], a["needs_help"]) for a in question["answers"]] == [("1", False), ("2", True)]
    assert set(question["answers"][1]["label"]) == {"pl", "en", "uk"}


def test_shipped_templates_are_written_once(db):
    templates.list_templates(db)
    templates.ensure_shipped(db)
    db.commit()
    assert db.scalar(text("SELECT count(*) FROM alert_template")) == len(templates.HAZARDS)


def test_an_edit_is_a_new_version_not_pre_approved_and_archived_templates_leave_the_composer(db, make_user):
    operator, approver = _user(db, make_user, "operator"), _user(db, make_user, "approver")
    template = templates.create_template(db, operator, _mine())
    assert templates.template_json(template)["version"] == 1
    templates.preapprove(db, template, approver)
    assert templates.template_json(template)["preapproved"]

    templates.update_template(db, template, operator, {"texts": {**_mine()["texts"], "pl": "Awaria: {zones}."}})
    shown = templates.template_json(template)
    assert (shown["id"], shown["version"], shown["preapproved"]) == (template.id, 2, False)
    assert shown["texts"]["pl"] == "Awaria: {zones}."
    assert templates.template_json(template, templates.version_of(template, 1))["preapproved"]  # v1 stays so
    templates.update_template(db, template, operator, {"name": "Awaria wodociagu"})  # nothing changed
    assert templates.template_json(template)["version"] == 2

    templates.archive_template(db, template, operator)
    db.commit()
    assert template.id not in [t.id for t in templates.list_templates(db)]
    assert template.id in [t.id for t in templates.list_templates(db, include_archived=True)]
    actions = db.scalars(
        text("SELECT action FROM audit_log WHERE object_type = 'template' AND object_id = :id ORDER BY id"),
        {"id": str(template.id)},
    ).all()
    assert actions == ["template.create", "template.preapprove", "template.update", "template.archive"]


def test_only_admins_and_approvers_pre_approve(db, make_user):
    template = _flood(db)
    with pytest.raises(TemplateForbidden, match="admin or an approver"):
        templates.preapprove(db, template, _user(db, make_user, "operator"))
    assert templates.preapprove(db, template, _user(db, make_user, "admin")).preapproved_at is not None


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"texts": {"pl": "Alarm {ulica}", "en": "x", "uk": "x"}}, "{ulica}"),
        ({"texts": {"pl": "Alarm {zone:>9}", "en": "x", "uk": "x"}}, "texts.pl"),
        ({"texts": {"pl": "Alarm", "en": "Alarm"}}, "texts.uk is missing"),
        ({"texts": {"pl": "Alarm", "en": " ", "uk": "x"}}, "texts.en is missing"),
        ({"cap": {"severity": "apocalyptic"}}, "cap.severity"),
        ({"cap": {"colour": "red"}}, "colour"),
        ({"hazard": "Flood!"}, "hazard"),
        ({"area_kind": "planet"}, "area_kind"),
        ({"question": {"answers": [{"key": "1", "label": {}}]}}, "question.answers"),
        ({"question": {"answers": [{"key": "1", "label": {"pl": "tak"}}, {"key": "2", "label": {}}]}}, "label"),
    ],
)
def test_bad_templates_are_refused_naming_what_is_wrong(db, change, named):
    with pytest.raises(InvalidTemplate) as refused:
        templates.create_template(db, None, _mine(**change))
    assert named in str(refused.value)


def test_a_campaign_from_a_template_gets_its_texts_and_cap_fields_and_explicit_fields_win(api, db, make_user):
    zone = create_zone(api, "Wilda", ZONE_A)
    author = _user(db, make_user, "operator")
    flood = _flood(db)
    campaign = campaigns.create_draft(
        db,
        author,
        {"template_id": flood.id, "values": {"until": "18:00"}, "zone_ids": [zone], "urgency": "immediate"},
        settings=APPROVAL,
        now=NOW,
    )
    assert campaign.body.startswith("UWAGA! Zagrozenie powodziowe: Wilda. Woda moze rosnac do 18:00.")
    assert campaign.variants["en"].startswith("WARNING! Flood danger: Wilda.")
    assert set(campaign.variants) == {"en", "uk"}
    assert (campaign.kind, campaign.event, campaign.category, campaign.severity) == ("alert", "Powódź", "Met", "severe")
    assert (campaign.urgency, campaign.certainty) == ("immediate", "likely")  # urgency: the request's own
    assert campaign.title == "Powódź"
    assert templates.campaign_origin(campaign)["template_id"] == flood.id
    assert templates.campaign_origin(campaign)["template_unchanged"]


def test_a_placeholder_without_a_value_or_an_unknown_value_is_refused_naming_it(api, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    flood = _flood(db)
    with pytest.raises(InvalidTemplate, match=r"Polish text uses the placeholder \{until\}"):
        campaigns.create_draft(db, None, {"template_id": flood.id, "zone_ids": [zone]}, settings=APPROVAL, now=NOW)
    with pytest.raises(InvalidTemplate, match=r"unknown placeholder \{street\}"):
        campaigns.create_draft(
            db, None, {"template_id": flood.id, "values": {"until": "1", "street": "x"}, "zone_ids": [zone]}
        )
    for wrong in (999, True, 2**70, "1"):
        with pytest.raises(InvalidTemplate, match="no template with id"):
            campaigns.create_draft(db, None, {"template_id": wrong, "zone_ids": [zone]})
    # a campaign's own template text: a value-less placeholder is refused too, never sent as a hole
    with pytest.raises(InvalidCampaign, match=r"\{until\}"):
        campaigns.create_draft(
            db, None, {"kind": "alert", "severity": "severe", "template": "Woda do {until}", "zone_ids": [zone]}
        )


def test_an_archived_template_cannot_start_a_campaign(api, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    flood = _flood(db)
    templates.archive_template(db, flood, None)
    with pytest.raises(InvalidTemplate, match="archived"):
        campaigns.create_draft(db, None, {"template_id": flood.id, "values": {"until": "1"}, "zone_ids": [zone]})


def test_a_pre_approved_unchanged_text_needs_no_second_approval_and_any_edit_voids_it(api, db, make_user):
    zone = create_zone(api, "Wilda", ZONE_A)
    other = create_zone(api, "Rataje", ZONE_B)
    author = _user(db, make_user, "operator")
    gas = next(t for t in templates.list_templates(db) if t.hazard == "gas")
    templates.preapprove(db, gas, _user(db, make_user, "approver"))
    request = {"template_id": gas.id, "zone_ids": [zone]}
    campaign = campaigns.create_draft(db, author, request, settings=SKIPPING, now=NOW)
    assert not campaigns.needs_approval(campaign, SKIPPING)
    assert campaigns.needs_approval(campaign, APPROVAL)  # the setting is off by default
    # other values (here the zones) are still the template's text
    moved = campaigns.create_draft(db, author, {**request, "zone_ids": [other]}, settings=SKIPPING, now=NOW)
    assert not campaigns.needs_approval(moved, SKIPPING)

    campaigns.update_campaign(db, campaign, author, {"body": campaign.body + " Nie palic."}, SKIPPING, now=NOW)
    assert campaigns.needs_approval(campaign, SKIPPING)
    edited = campaigns.create_draft(
        db, author, {**request, "variants": {"en": "Gas leak. Leave the area."}}, settings=SKIPPING, now=NOW
    )
    assert campaigns.needs_approval(edited, SKIPPING)

    # sending it: audited as approved by the pre-approved template
    assert campaigns.send(db, moved, author, SKIPPING, now=NOW)
    note = db.scalar(
        text("SELECT note FROM audit_log WHERE action = 'campaign.preapproved' AND object_id = :id"),
        {"id": str(moved.id)},
    )
    assert note == "approved by pre-approved template v1"


def test_a_new_version_of_the_template_is_not_pre_approved(api, db, make_user):
    zone = create_zone(api, "Wilda", ZONE_A)
    gas = next(t for t in templates.list_templates(db) if t.hazard == "gas")
    templates.preapprove(db, gas, _user(db, make_user, "approver"))
    templates.update_template(db, gas, None, {"name": "Wyciek gazu (nowy)"})
    campaign = campaigns.create_draft(db, None, {"template_id": gas.id, "zone_ids": [zone]}, settings=SKIPPING)
    assert campaigns.needs_approval(campaign, SKIPPING)


def test_the_preview_says_when_a_filled_placeholder_pushes_a_text_over_a_part_boundary(api, db, settings):
    zone = create_zone(api, "Łazarz i Górczyn", ZONE_A)  # diacritics: the Polish text becomes UCS-2
    storm = next(t for t in templates.list_templates(db) if t.hazard == "storm")
    _campaign, preview = campaigns.draft_preview(
        db, None, {"template_id": storm.id, "values": {"until": "22:00"}, "zone_ids": [zone]}, APPROVAL,
        settings.billing, now=NOW,
    )  # fmt: skip
    assert preview.texts["pl"]["parts"] > preview.texts["pl"]["parts_unfilled"]
    assert any("Polish text needs" in w and "part boundary" in w for w in preview.warnings), preview.warnings
    plain = create_zone(api, "Wilda", ZONE_B)
    _campaign, preview = campaigns.draft_preview(
        db, None, {"template_id": storm.id, "values": {"until": "22:00"}, "zone_ids": [plain]}, APPROVAL,
        settings.billing, now=NOW,
    )  # fmt: skip
    assert not [w for w in preview.warnings if "part boundary" in w]


def test_fill_for_hazard_gives_what_a_draft_needs(api, db):
    zone = create_zone(api, "Wilda", ZONE_A)
    filled = templates.fill_for_hazard(db, "storm", {"until": "22:00"}, zone_names=["Wilda"], now=NOW)
    assert filled["campaign"]["body"].startswith("UWAGA! Silny wiatr i burze: Wilda, do 22:00.")
    assert (filled["response_type"], filled["area_kind"], filled["template_version"]) == ("Shelter", "city", 1)
    campaign = campaigns.create_draft(db, None, {**filled["campaign"], "zone_ids": [zone]})
    assert campaign.event == "Silny wiatr"
    with pytest.raises(TemplateNotFound):
        templates.fill_for_hazard(db, "meteor", {})


def test_the_cap_message_carries_the_templates_response_type_and_instruction(api, db):
    from pathlib import Path

    from lxml import etree

    from campaigns.cap import NS, build_cap

    zone = create_zone(api, "Wilda", ZONE_A)
    gas = next(t for t in templates.list_templates(db) if t.hazard == "gas")
    campaign = campaigns.create_draft(db, None, {"template_id": gas.id, "zone_ids": [zone]}, now=NOW)
    document = etree.fromstring(build_cap(db, campaign, CampaignSettings()))
    schema = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "CAP-v1.2.xsd")))
    schema.assertValid(document)
    infos = document.findall(f"{{{NS}}}info")
    assert [i.findtext(f"{{{NS}}}responseType") for i in infos] == ["Evacuate"] * 3
    assert infos[0].findtext(f"{{{NS}}}instruction").startswith("Nie używaj otwartego ognia")
    assert [i.findtext(f"{{{NS}}}event") for i in infos] == ["Wyciek gazu"] * 3
