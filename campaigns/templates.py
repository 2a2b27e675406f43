"""The hazard template library (issue 16): what the duty officer starts from when there are minutes to act.

A template has a stable id and versions; editing writes the next version (`version` in JSON), archiving hides it
from the composer but keeps it (campaigns made from it keep pointing at their version). Each version holds a text
per language (pl, en, uk at least) with placeholders (campaigns.composition.PLACEHOLDERS — the one home of that
rule, shared with a campaign's own `template` text), CAP defaults, an optional question in issue 15's shape, and
a suggested area kind. The shipped ones (campaigns.template_library) are written on first use (ensure_shipped).

An admin or approver may mark a version pre-approved. With `[campaigns] preapproved_templates_skip_approval`, a
campaign made from a pre-approved version whose texts nobody changed (the placeholder values may differ) needs no
second approval (`skips_approval`, called by campaigns.service.needs_approval); any change of its texts voids it.

`from_request` is the composer's and the API's hook (`"template_id"` and `"values"` in a campaign request);
`fill_for_hazard` is the same for callers that know only the hazard (feeds: an official warning → a draft).
Everything works in the caller's transaction; the caller commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, selectinload

from campaigns import composition, questions
from campaigns.exceptions import InvalidTemplate, TemplateForbidden, TemplateNotFound
from campaigns.models import AlertTemplate, AlertTemplateVersion, Campaign, CampaignKind, Severity
from campaigns.schemas import CAP_CATEGORIES, CERTAINTIES, URGENCIES
from campaigns.template_library import SHIPPED
from subscribers.schemas import LANGUAGES
from syrena_core.accounts import Role, User
from syrena_core.audit import record
from syrena_core.db import utcnow
from syrena_core.schemas import Choice, Input, Text
from syrena_core.text import TemplateInvalid, check_characters, fill_placeholders
from zones.models import Zone

HAZARDS = tuple(SHIPPED)  # flood storm heat frost gas water chemical outage evacuation missing all_clear
REQUIRED_LANGUAGES = ("pl", "en", "uk")
AREA_KINDS = ("city", "zones", "circle", "polygon", "line")
RESPONSE_TYPES = ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None")
# The CAP defaults a template carries; the first five are a campaign's own fields (filled unless the request sets
# them), response_type and instruction are kept with the template and handed to whoever builds on it.
CAP_KEYS = ("event", "category", "severity", "urgency", "certainty", "response_type", "instruction")
CAMPAIGN_CAP_KEYS = CAP_KEYS[:5]
MAX_TEXT = 2000
_HAZARD = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


# ------------------------------------------------------------------------------------------- input rules
def _hazard(value: Any) -> str:
    if not isinstance(value, str) or not _HAZARD.match(value.strip()):
        raise ValueError(
            "hazard must be a short key of lower-case letters, digits and _ (e.g. flood, gas, all_clear); "
            f"the shipped ones: {', '.join(HAZARDS)}"
        )
    return value.strip()


def check_placeholders(text: str, what: str) -> None:
    """Only known placeholders (composition.PLACEHOLDERS), well formed: else InvalidTemplate naming the text."""
    try:
        fill_placeholders(text, {}, composition.PLACEHOLDERS)
    except TemplateInvalid as e:
        raise InvalidTemplate(f"{what}: {e}") from None


def _texts(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValueError('texts must be an object of language → text, e.g. {"pl": "…", "en": "…", "uk": "…"}')
    for language in raw:
        if language not in LANGUAGES:
            raise ValueError(f"texts.{language}: not a language of the service ({', '.join(LANGUAGES)})")
    for language in REQUIRED_LANGUAGES:
        if not isinstance(raw.get(language), str) or not raw[language].strip():
            raise ValueError(f"texts.{language} is missing: a template needs a text in {', '.join(REQUIRED_LANGUAGES)}")
    out = {}
    for language, text in raw.items():
        what = f"texts.{language}"
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{what} is empty")
        if len(text) > MAX_TEXT:
            raise ValueError(f"{what} has {len(text)} characters; at most {MAX_TEXT}")
        check_characters(text, what, ValueError)
        try:
            check_placeholders(text, what)
        except InvalidTemplate as e:
            raise ValueError(str(e)) from None
        out[language] = text.strip()
    return out


def _one_of(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}")
    return value


def _cap(raw: Any) -> dict[str, str]:
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ValueError(f"cap must be an object with {', '.join(CAP_KEYS)}")
    unknown = sorted(set(raw) - set(CAP_KEYS))
    if unknown:
        raise ValueError(f"cap: unknown field(s) {', '.join(map(str, unknown))}; known: {', '.join(CAP_KEYS)}")
    out = {
        "category": _one_of(raw.get("category") or "Safety", CAP_CATEGORIES, "cap.category"),
        "severity": _one_of(raw.get("severity") or "severe", tuple(s.value for s in Severity), "cap.severity"),
        "urgency": _one_of(raw.get("urgency") or "immediate", URGENCIES, "cap.urgency"),
        "certainty": _one_of(raw.get("certainty") or "observed", CERTAINTIES, "cap.certainty"),
        "response_type": _one_of(raw.get("response_type") or "None", RESPONSE_TYPES, "cap.response_type"),
    }
    for key, limit in (("event", 120), ("instruction", 1000)):
        value = raw.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value.strip()) > limit:
            raise ValueError(f"cap.{key} is text of at most {limit} characters")
        check_characters(value, f"cap.{key}", ValueError)
        out[key] = value.strip()
    return out


def _question(raw: Any) -> dict[str, Any] | None:
    """Issue 15's shape, checked by the rule every campaign's question obeys (campaigns.questions: 2-5 answers,
    keys 1-5, a Polish label each, the reply window): a template's question becomes its campaigns' own."""
    try:
        return questions.validate_question(raw)
    except questions.InvalidQuestion as error:
        raise ValueError(str(error)) from None


_TEXTS_SCHEMA = {
    "type": "object",
    "required": list(REQUIRED_LANGUAGES),
    "additionalProperties": {"type": "string", "maxLength": MAX_TEXT},
    "description": "language → SMS text with placeholders " + " ".join("{" + p + "}" for p in composition.PLACEHOLDERS),
}
_CAP_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "maxLength": 120},
        "category": {"type": "string", "enum": list(CAP_CATEGORIES)},
        "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "urgency": {"type": "string", "enum": list(URGENCIES)},
        "certainty": {"type": "string", "enum": list(CERTAINTIES)},
        "response_type": {"type": "string", "enum": list(RESPONSE_TYPES)},
        "instruction": {"type": "string", "maxLength": 1000},
    },
    "additionalProperties": False,
}
_QUESTION_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "an optional question for two-way alerts (issue 15): answers by reply key",
    "properties": {
        "answers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "label": {"type": "object", "additionalProperties": {"type": "string"}},
                    "needs_help": {"type": "boolean"},
                },
            },
        },
        "reply_minutes": {"type": "integer"},
    },
}

if TYPE_CHECKING:
    Name: TypeAlias = str | None
    AreaKind: TypeAlias = str
else:
    Name = Text("the name", 120)
    AreaKind = Choice(AREA_KINDS, "area_kind", "zones", "the area a campaign from it usually targets")


class TemplateInput(Input):
    """What staff set on a template (POST; PUT takes the same fields, those left out stay as they were)."""

    model_config = ConfigDict(json_schema_extra={"required": ["name", "hazard", "texts"]})
    error: ClassVar[type[Exception]] = InvalidTemplate

    name: Name
    hazard: Annotated[str, BeforeValidator(_hazard), WithJsonSchema({"type": "string", "example": "flood"})] = Field(
        default=None, validate_default=True
    )
    texts: Annotated[dict[str, str], BeforeValidator(_texts), WithJsonSchema(_TEXTS_SCHEMA)] = Field(
        default=None, validate_default=True
    )
    cap: Annotated[dict[str, str], BeforeValidator(_cap), WithJsonSchema(_CAP_SCHEMA)] = Field(
        default=None, validate_default=True
    )
    question: Annotated[dict[str, Any] | None, BeforeValidator(_question), WithJsonSchema(_QUESTION_SCHEMA)] = None
    area_kind: AreaKind

    @model_validator(mode="after")
    def _named(self) -> TemplateInput:
        if not self.name:
            raise ValueError("the name is missing (e.g. Powódź)")
        return self


# ------------------------------------------------------------------------------------------- the library
# Shipped templates, once each: ON CONFLICT on the unique `shipped` key lets two first requests race harmlessly.
def ensure_shipped(session: Session) -> None:
    """Write every shipped template not yet in the library (archived ones count as there): on first use, like the
    configured tariff, so a fresh database (and one the tests emptied) has them."""
    present = set(session.scalars(select(AlertTemplate.shipped).where(AlertTemplate.shipped.is_not(None))))
    for hazard, spec in SHIPPED.items():
        if hazard in present:
            continue
        template_id = session.scalar(
            insert(AlertTemplate)
            .values(hazard=hazard, shipped=hazard, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["shipped"])
            .returning(AlertTemplate.id)
        )
        if template_id is None:
            continue  # another request wrote it meanwhile
        fields = TemplateInput.check(
            {k: spec.get(k) for k in ("name", "texts", "cap", "question", "area_kind")} | {"hazard": hazard}
        )
        session.add(AlertTemplateVersion(template_id=template_id, version=1, created_at=utcnow(), **_columns(fields)))
        record(session, "template.create", None, "template", template_id, {"shipped": hazard, "version": 1})
    session.flush()


def _columns(fields: TemplateInput) -> dict[str, Any]:
    return {
        "name": fields.name,
        "texts": fields.texts,
        "cap": fields.cap,
        "question": fields.question,
        "area_kind": fields.area_kind,
    }


def list_templates(session: Session, include_archived: bool = False) -> list[AlertTemplate]:
    ensure_shipped(session)
    query = select(AlertTemplate).options(selectinload(AlertTemplate.versions)).order_by(AlertTemplate.id)
    if not include_archived:
        query = query.where(AlertTemplate.archived_at.is_(None))
    return list(session.scalars(query))


def get_template(session: Session, template_id: Any) -> AlertTemplate:
    ensure_shipped(session)
    valid = isinstance(template_id, int) and not isinstance(template_id, bool) and 0 < template_id < 2**31
    template = session.get(AlertTemplate, template_id) if valid else None
    if template is None:
        raise TemplateNotFound(f"no template with id {template_id!r}")
    return template


def current(template: AlertTemplate) -> AlertTemplateVersion:
    return template.versions[-1]


def version_of(template: AlertTemplate, number: int | None) -> AlertTemplateVersion:
    if number is None:
        return current(template)
    for version in template.versions:
        if version.version == number:
            return version
    raise TemplateNotFound(f"template {template.id} has no version {number}")


def template_json(template: AlertTemplate, version: AlertTemplateVersion | None = None) -> dict[str, Any]:
    v = version or current(template)
    return {
        "id": template.id,
        "name": v.name,
        "hazard": template.hazard,
        "texts": dict(v.texts),
        "cap": dict(v.cap),
        "question": v.question,
        "area_kind": v.area_kind,
        "version": v.version,
        "versions": len(template.versions),
        "preapproved": v.preapproved_at is not None,
        "preapproved_at": v.preapproved_at.isoformat() if v.preapproved_at else None,
        "preapproved_by": v.preapproved_by,
        "archived": template.archived_at is not None,
        "archived_at": template.archived_at.isoformat() if template.archived_at else None,
        "shipped": template.shipped is not None,
        "placeholders": sorted({p for text in v.texts.values() for p in composition.placeholders_in(text)}),
        "updated_at": v.created_at.isoformat(),
    }


def create_template(session: Session, actor: User | None, data: Any) -> AlertTemplate:
    fields = TemplateInput.check(data)
    template = AlertTemplate(hazard=fields.hazard, created_at=utcnow())
    template.versions.append(
        AlertTemplateVersion(version=1, created_at=utcnow(), created_by=actor.id if actor else None, **_columns(fields))
    )
    session.add(template)
    session.flush()
    record(session, "template.create", actor, "template", template.id, {"hazard": template.hazard, "version": 1})
    return template


def update_template(session: Session, template: AlertTemplate, actor: User | None, data: Any) -> AlertTemplate:
    """The next version (not pre-approved) from the current one with `data`'s fields replaced; nothing when
    nothing changed."""
    if template.archived_at is not None:
        raise InvalidTemplate(f"template {template.id} is archived: create a new one instead of editing it")
    if not isinstance(data, dict):
        raise InvalidTemplate("the request body must be a JSON object")
    now = current(template)
    merged = {
        "name": now.name,
        "hazard": template.hazard,
        "texts": now.texts,
        "cap": now.cap,
        "question": now.question,
        "area_kind": now.area_kind,
    }
    merged.update(data)
    fields = TemplateInput.check(merged)
    columns = _columns(fields)
    changed = sorted(k for k, v in columns.items() if getattr(now, k) != v)
    if fields.hazard != template.hazard:
        changed.append("hazard")
    if not changed:
        return template
    template.hazard = fields.hazard
    template.versions.append(
        AlertTemplateVersion(
            version=now.version + 1, created_at=utcnow(), created_by=actor.id if actor else None, **columns
        )
    )
    session.flush()
    record(
        session,
        "template.update",
        actor,
        "template",
        template.id,
        {"version": now.version + 1, "fields": changed},
        before={k: getattr(now, k) for k in changed if k != "hazard"},
        after={k: columns[k] for k in changed if k != "hazard"},
    )
    return template


def archive_template(session: Session, template: AlertTemplate, actor: User | None) -> AlertTemplate:
    """Hidden from the composer, kept in the library (and for the campaigns made from it)."""
    if template.archived_at is None:
        template.archived_at = utcnow()
        template.archived_by = actor.id if actor else None
        record(session, "template.archive", actor, "template", template.id, {"version": current(template).version})
    return template


def preapprove(
    session: Session, template: AlertTemplate, actor: User | None, version: int | None = None
) -> AlertTemplateVersion:
    """Mark a version (the current one by default) pre-approved: admins and approvers only."""
    if actor is None or not actor.has_role(Role.APPROVER):
        raise TemplateForbidden("only an admin or an approver may pre-approve a template")
    if template.archived_at is not None:
        raise InvalidTemplate(f"template {template.id} is archived: it cannot be pre-approved")
    v = version_of(template, version)
    if v.preapproved_at is None:
        v.preapproved_at, v.preapproved_by = utcnow(), actor.id
        record(session, "template.preapprove", actor, "template", template.id, {"version": v.version})
    return v


# ------------------------------------------------------------------------------------------- filling
_LANGUAGE_NAMES = {"pl": "Polish", "en": "English", "uk": "Ukrainian", "de": "German"}


@dataclass
class Filled:
    """A template (or a campaign's own texts) with its placeholders filled: what a campaign request needs."""

    version: AlertTemplateVersion | None
    texts: dict[str, str]  # language → filled text
    unchanged: bool  # the texts are the version's own (only placeholder values differ)
    # language → (parts unfilled, parts filled, encoding unfilled, encoding filled) where filling changed them
    boundaries: dict[str, tuple[int, int, str, str]] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return [
            f"the {_LANGUAGE_NAMES.get(language, language)} text needs {after} SMS part(s) once its placeholders "
            f"are filled ({before} with them unfilled{', now UCS-2' if enc_after != enc_before else ''}): the "
            "values push it over a part boundary"
            for language, (before, after, enc_before, enc_after) in self.boundaries.items()
        ]


def _values(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidTemplate('values must be an object of placeholder → text, e.g. {"until": "18:00"}')
    out = {}
    for name, value in raw.items():
        if name not in composition.PLACEHOLDERS:
            raise InvalidTemplate(
                f"values: unknown placeholder {{{name}}}; known: "
                + ", ".join("{" + p + "}" for p in composition.PLACEHOLDERS)
            )
        if not isinstance(value, str) or len(value) > 500:
            raise InvalidTemplate(f"values.{name} must be text of at most 500 characters")
        check_characters(value, f"values.{name}", InvalidTemplate, line_breaks=False)
        out[name] = value.strip()
    return out


def fill(version: AlertTemplateVersion | None, texts: dict[str, str], values: dict[str, str]) -> Filled:
    """`texts` (language → text with placeholders) filled with `values`; `unchanged` when they are `version`'s."""
    filled, boundaries = {}, {}
    for language, text in texts.items():
        what = f"the {_LANGUAGE_NAMES.get(language, language)} text"
        try:
            filled[language] = composition.render_template(text, values, what)
        except Exception as e:  # InvalidCampaign: this module's callers expect InvalidTemplate (same 422)
            raise InvalidTemplate(str(e)) from None
        if filled[language] != text:
            before, after = composition.analyse(text), composition.analyse(filled[language])
            if after.parts > before.parts:
                boundaries[language] = (before.parts, after.parts, before.encoding, after.encoding)
    unchanged = version is not None and texts == dict(version.texts)
    return Filled(version, filled, unchanged, boundaries)


_ZONE_NAMES = select(Zone.name).order_by(Zone.id)


def _merged(standard: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """The request's values over the standard ones; {zone} and {zones} are one value (the target's names, or
    what the sender wrote instead, e.g. "cale miasto" for a city-wide alert rather than 42 district names)."""
    merged = {**standard, **values}
    for one, other in (("zone", "zones"), ("zones", "zone")):
        if one in values and other not in values:
            merged[other] = values[one]
    return merged


def _template_for_campaign(session: Session, template_id: Any) -> AlertTemplateVersion:
    try:
        template = get_template(session, template_id)
    except TemplateNotFound as e:
        raise InvalidTemplate(f"template_id: {e}") from None
    if template.archived_at is not None:
        raise InvalidTemplate(f"template_id: template {template.id} is archived; choose another one")
    return current(template)


def from_request(
    session: Session, data: dict[str, Any], *, now: datetime, timezone: str
) -> tuple[dict[str, Any], Filled | None]:
    """The hook of campaigns.service (create, preview): a campaign request naming `template_id` and/or `values`
    becomes a plain one. The template's texts (each language the request does not set itself), its CAP defaults
    (the fields the request leaves out) and kind alert; every text's placeholders filled with `values` over the
    standard ones (zone names, date, time, title). Requests with neither key pass untouched (None)."""
    if "template_id" not in data and "values" not in data:
        return data, None
    data = dict(data)
    template_id = data.pop("template_id", None)
    values = _values(data.pop("values", None))
    version = _template_for_campaign(session, template_id) if template_id is not None else None
    if version is not None:
        for key in CAMPAIGN_CAP_KEYS:
            if data.get(key) in (None, "") and version.cap.get(key):
                data[key] = version.cap[key]
        if not data.get("kind"):
            data["kind"] = CampaignKind.ALERT.value
        if not data.get("title"):
            data["title"] = version.name
    variants = data.get("variants") or {}
    if not isinstance(variants, dict):
        return data, None  # the schema says what is wrong with it
    texts = {"pl": data.get("template") or data.get("body") or (version.texts["pl"] if version else "")}
    texts.update({lang: text for lang, text in variants.items() if isinstance(text, str) and text.strip()})
    if version is not None:
        for language, text in version.texts.items():
            texts.setdefault(language, text)
    if not isinstance(texts["pl"], str):
        return data, None
    zone_names: list[str] = []
    zone_ids = data.get("zone_ids")
    if isinstance(zone_ids, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in zone_ids):
        # Names only (in id order, as campaigns.service fills its own template): the zones' geometry, which
        # _apply loads next, is the heavy part; missing or archived zones are named by _apply.
        zone_names = list(session.scalars(_ZONE_NAMES.where(Zone.id.in_(zone_ids))))
    title = data.get("title") if isinstance(data.get("title"), str) else None
    standard = composition.standard_values(zone_names, title, now, timezone)
    filled = fill(version, texts, _merged(standard, values))
    if version is not None and version.question and "question" not in data:
        data["question"] = version.question  # the template's question with numbered answers (issue 15)
    data["template"] = None  # filled here: the campaign's own template mechanism must not fill it again
    data["body"] = filled.texts["pl"]
    data["variants"] = {lang: text for lang, text in filled.texts.items() if lang != "pl"}
    return data, filled


def link(session: Session, campaign: Campaign, filled: Filled | None, actor: User | None) -> None:
    """Remember the version a campaign was made from, and its filled texts while they are the template's own."""
    if filled is None or filled.version is None:
        return
    campaign.template_version_id = filled.version.id
    campaign.template_texts = filled.texts if filled.unchanged else None
    if campaign.id is not None:
        record(
            session,
            "campaign.from_template",
            actor,
            "campaign",
            campaign.id,
            {
                "template_id": filled.version.template_id,
                "version": filled.version.version,
                "unchanged": filled.unchanged,
            },
        )


def campaign_texts(campaign: Campaign) -> dict[str, str]:
    return {"pl": campaign.body, **(campaign.variants or {})}


def skips_approval(campaign: Campaign) -> AlertTemplateVersion | None:
    """The pre-approved version whose unchanged texts this campaign sends (it needs no second approval when
    `[campaigns] preapproved_templates_skip_approval` is on), else None. Any change of the texts after the
    campaign was made from the template voids it."""
    version = campaign.template_version
    if version is None or version.preapproved_at is None or not campaign.template_texts:
        return None
    if campaign.msg_type != "Alert":
        return None
    return version if campaign_texts(campaign) == campaign.template_texts else None


def campaign_origin(campaign: Campaign) -> dict[str, Any]:
    """What the API shows of a campaign's template: its id and version, whether its texts are still the
    template's own, and whether it goes as pre-approved (when the setting allows it)."""
    version = campaign.template_version
    return {
        "template_id": version.template_id if version else None,
        "template_version": version.version if version else None,
        "template_unchanged": bool(campaign.template_texts) and campaign_texts(campaign) == campaign.template_texts,
        "template_preapproved": skips_approval(campaign) is not None,
    }


def approve_as_preapproved(session: Session, campaign: Campaign, actor: User | None) -> None:
    """A draft sent without a second approval because it is a pre-approved version's unchanged text: recorded
    as approved by whoever pre-approved that version, and audited as such."""
    version = skips_approval(campaign)
    if version is None:
        return
    campaign.approved_at = utcnow()
    campaign.approver_id = version.preapproved_by
    record(
        session,
        "campaign.preapproved",
        actor,
        "campaign",
        campaign.id,
        {"template_id": version.template_id, "version": version.version, "preapproved_by": version.preapproved_by},
        note=f"approved by pre-approved template v{version.version}",
    )


def fill_for_hazard(
    session: Session,
    hazard: str,
    values: dict[str, str],
    *,
    zone_names: list[str] | None = None,
    now: datetime | None = None,
    timezone: str = "Europe/Warsaw",
) -> dict[str, Any]:
    """The library's template for `hazard` (the shipped one first, never an archived one), filled:
    {"template_id", "template_version", "campaign": {kind, title, body, variants, event, category, severity,
    urgency, certainty} — fields campaigns.service.create_draft takes as they are, add the target —,
    "response_type", "instruction", "question", "area_kind", "warnings"}. Placeholders are filled with `values`
    over the standard ones ({zone}/{zones} from `zone_names`, {date}/{time} at `now` in `timezone`, {title});
    a placeholder without a value or an unknown one raises InvalidTemplate naming it; an unknown hazard
    TemplateNotFound. To link the draft to the template version (pre-approval), create it with
    {"template_id": …, "values": …, "zone_ids": …} instead: create_draft fills it the same way."""
    ensure_shipped(session)
    template = session.scalars(
        select(AlertTemplate)
        .where(AlertTemplate.hazard == hazard, AlertTemplate.archived_at.is_(None))
        .order_by(AlertTemplate.shipped.is_(None), AlertTemplate.id)
        .limit(1)
    ).first()
    if template is None:
        raise TemplateNotFound(f"no template for the hazard {hazard!r}; the shipped ones: {', '.join(HAZARDS)}")
    version = current(template)
    standard = composition.standard_values(zone_names or [], version.name, now or utcnow(), timezone)
    filled = fill(version, dict(version.texts), _merged(standard, _values(values)))
    return {
        "template_id": template.id,
        "template_version": version.version,
        "campaign": {
            "kind": CampaignKind.ALERT.value,
            "title": version.name,
            "body": filled.texts["pl"],
            "variants": {lang: text for lang, text in filled.texts.items() if lang != "pl"},
            **{key: version.cap.get(key) for key in CAMPAIGN_CAP_KEYS},
        },
        "response_type": version.cap.get("response_type"),
        "instruction": version.cap.get("instruction"),
        "question": version.question,
        "area_kind": version.area_kind,
        "warnings": filled.warnings,
    }
