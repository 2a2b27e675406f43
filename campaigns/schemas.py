"""What a client may send to compose a campaign, and what it gets back — declared once.

These pydantic models are the one home of the campaign fields' rules (which fields exist, their types, choices,
lengths, and the message that says how to fix each): `campaigns.service` checks every draft against them,
whether it came from the API or the staff composer (`check`), and the API's OpenAPI document is generated from
them (app/openapi.py). What depends on the deployment or the database — the SMS parts a text needs under
`[campaigns] max_parts`, drawn areas under `[zones]` limits, zones that exist, a schedule not in the past — is
checked by the service itself, after these. The messages are the ones users see (the API's `message`, the
composer's flash): see syrena_core/schemas.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from campaigns.exceptions import InvalidCampaign
from campaigns.models import CampaignKind, CampaignStatus, CapStatus, Severity
from subscribers.schemas import LANGUAGES, TOPICS
from syrena_core.schemas import Choice, Input, Text, choice

# Variants: one for each language residents can choose (subscribers.schemas.LANGUAGES); Polish is the body.
URGENCIES = ("immediate", "expected", "future", "past", "unknown")
CERTAINTIES = ("observed", "likely", "possible", "unlikely", "unknown")
CAP_CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
MAX_VALIDITY_MINUTES = 7 * 24 * 60


# ------------------------------------------------------------------------------------------- field rules
def when(value: Any, what: str) -> datetime | None:
    """An ISO 8601 time with its UTC offset, in UTC; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{what} must be an ISO 8601 time, e.g. 2026-12-01T08:00:00+01:00") from None
    else:
        raise ValueError(f"{what} must be an ISO 8601 time")
    if parsed.tzinfo is None:
        raise ValueError(f"{what} must carry its UTC offset (e.g. +01:00 or Z)")
    try:  # in UTC: PostgreSQL takes offsets only up to ±15:59 (ISO 8601 allows more)
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{what} is out of range") from None


def When(what: str, description: str | None = None) -> Any:
    return Annotated[
        datetime | None, BeforeValidator(lambda value: when(value, what)), Field(default=None, description=description)
    ]


def _zone_ids(raw: Any) -> list[int]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
        raise ValueError("zone_ids must be a list of zone ids")
    return list(dict.fromkeys(raw))


def _validity(value: Any) -> int:
    value = value or 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALIDITY_MINUTES:
        raise ValueError(f"validity_minutes must be a whole number of minutes between 0 and {MAX_VALIDITY_MINUTES}")
    return value


def _flash(value: Any) -> bool:
    value = value or False
    if not isinstance(value, bool):
        raise ValueError("flash must be true or false")
    return value


def _sender_id(value: str | None) -> str | None:
    if value is not None and not (value.isascii() and value.replace(" ", "").isalnum()):
        raise ValueError("the sender id is at most 11 letters and digits")
    return value


def _test_group_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValueError("test_group_id must be the id of a test group (GET /api/v1/test-groups), or null")
    return value


def _confirm(value: Any) -> bool:
    value = value or False
    if not isinstance(value, bool):
        raise ValueError("confirm_real_target must be true or false")
    return value


def _variants(raw: Any) -> dict[str, Any]:
    """Language → text; the texts themselves are checked like the body (campaigns.service.check_body)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError('variants must be an object of language code → text, e.g. {"en": "…"}')
    for language in raw:
        if language not in LANGUAGES or language == "pl":
            raise ValueError(
                f"variant language must be one of {', '.join(LANGUAGES[1:])} (the Polish text is the body)"
            )
    return raw


# The fields built by the rule factories (Choice, Text, When): pydantic types made at run time, which mypy cannot
# evaluate; to it, each is the value it holds once validated.
if TYPE_CHECKING:
    Kind: TypeAlias = str
    CapStatusField: TypeAlias = str
    SeverityField: TypeAlias = str
    Urgency: TypeAlias = str
    Certainty: TypeAlias = str
    Category: TypeAlias = str
    Title: TypeAlias = str | None
    Department: TypeAlias = str | None
    Topic: TypeAlias = str | None
    Event: TypeAlias = str | None
    Template: TypeAlias = str | None
    SenderId: TypeAlias = str | None
    ScheduledFor: TypeAlias = datetime | None
    ExpiresAt: TypeAlias = datetime | None
else:
    # A call-out's carrier (kind callout) is made by campaigns.callouts only: not a kind anyone composes.
    Kind = Choice((CampaignKind.ALERT.value, CampaignKind.INFO.value), "kind")
    CapStatusField = Choice(
        tuple(s.value for s in CapStatus),
        "cap_status",
        "actual",
        'CAP status: actual, exercise or test (the API also takes it as "status" in a request; in answers '
        "`status` is the workflow state). An exercise or test needs test_group_id, or confirm_real_target",
    )
    SeverityField = Choice(tuple(s.value for s in Severity), "severity")
    Urgency = Choice(URGENCIES, "urgency", "immediate")
    Certainty = Choice(CERTAINTIES, "certainty", "observed")
    Category = Choice(CAP_CATEGORIES, "category", "Safety", "CAP category, e.g. Safety, Met, Fire")
    Title = Text("the title", 120)
    Department = Text("the department (cost centre)", 80, description="cost centre the SMS are charged to")
    Topic = Text("the topic", 32, description=f"info campaigns: only subscribers of this topic ({', '.join(TOPICS)})")
    Event = Text("the event", 120)
    Template = Text(
        "the template", 2000, line_breaks=True, description="text with {zone}, {date}, {time}, {title}; fills body"
    )
    SenderId = Annotated[Text("the sender id", 11), AfterValidator(_sender_id)]  # once the text rule has trimmed it
    ScheduledFor = When("scheduled_for")
    ExpiresAt = When("expires_at")

# Texts are checked by campaigns.service.check_body, whose limit is `[campaigns] max_parts` SMS parts (and that
# names what is wrong with a text that is no text at all): here only their documented shape.
Body = Annotated[Any, WithJsonSchema({"type": "string", "description": "Polish text"}), Field(default=None)]
Variants = Annotated[
    dict[str, Any],
    BeforeValidator(_variants),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "language (en, uk, de) → text; others get the Polish body",
        }
    ),
    Field(default_factory=dict),
]
Flash = Annotated[bool, BeforeValidator(_flash), Field(default=False, description="extreme only")]
# A hazard template and its placeholder values (issue 16): campaigns.templates fills the texts and CAP fields from
# them before these rules run (create and preview), so only their documented shape here.
TemplateId = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "integer",
            "nullable": True,
            "description": "a hazard template (GET /api/v1/templates): fills the texts per language and the CAP "
            "fields this request leaves out; kind alert, title its name",
        }
    ),
    Field(default=None),
]
Values = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "object",
            "nullable": True,
            "additionalProperties": {"type": "string"},
            "description": 'placeholder → text, e.g. {"until": "18:00", "place": "SP 12"}; {zone} {zones} '
            "{date} {time} {title} are filled by the server unless given here",
        }
    ),
    Field(default=None),
]

_AREA = {
    "oneOf": [
        {"type": "object", "description": "GeoJSON Polygon or MultiPolygon"},
        {
            "type": "object",
            "properties": {
                "circle": {
                    "type": "object",
                    "properties": {
                        "lat": {"type": "number"},
                        "lon": {"type": "number"},
                        "radius_m": {"type": "number"},
                    },
                }
            },
        },
        {
            "type": "object",
            "properties": {
                "line": {"type": "object", "description": "GeoJSON LineString"},
                "buffer_m": {"type": "number"},
            },
        },
    ]
}
# Drawn areas and the hazard point are parsed by campaigns.targeting (their limits are [zones] settings): here
# only their documented shape.
Area = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": "an ad-hoc area, or a list of them; with zone_ids the union is the target",
            "oneOf": [_AREA, {"type": "array", "items": _AREA}],
        }
    ),
    Field(default=None),
]
HAZARD_SCHEMA = {
    "type": "object",
    "nullable": True,
    "required": ["lat", "lon"],
    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
    "description": "Where the danger is: recipients nearest it are sent first. Without it, distances "
    "are measured from the drawn circles' centres and lines, else from a point inside "
    "the target. Must lie in the service area; needs a target (422 invalid_hazard "
    "otherwise); null clears it.",
}
Hazard = Annotated[Any, WithJsonSchema(HAZARD_SCHEMA), Field(default=None)]
# A question with numbered answers (issue 15): checked by campaigns.questions.validate_question (its rules need
# the campaign's languages, and it names the field: question.answers[1].label.pl); here only its documented shape.
_LABEL_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string", "maxLength": 40},
    "description": "language (pl, en, uk, de) → label; pl required, and each language the campaign has a variant for",
}
QUESTION_SCHEMA = {
    "type": "object",
    "nullable": True,
    "required": ["answers"],
    "properties": {
        "answers": {
            "type": "array",
            "minItems": 2,
            "maxItems": 5,
            "items": {
                "type": "object",
                "required": ["key", "label"],
                "properties": {
                    "key": {"type": "string", "enum": ["1", "2", "3", "4", "5"]},
                    "label": _LABEL_SCHEMA,
                    "needs_help": {"type": "boolean", "default": False},
                },
            },
        },
        "reply_minutes": {"type": "integer", "minimum": 15, "maximum": 10080, "default": 720},
    },
    "description": "A question with numbered answers: each language's text gets a line \"Odpowiedz 1 – …, "
    '2 – …" (counted in parts and cost); replies count for the campaign for reply_minutes after sending. '
    "null: none",
}
Question = Annotated[Any, WithJsonSchema(QUESTION_SCHEMA), Field(default=None)]


class _Input(Input):
    error: ClassVar[type[Exception]] = InvalidCampaign


class CampaignInput(_Input):
    """What the API and the staff composer may set on a campaign; everything else is derived."""

    # The fields are checked in this order; the first problem is the one reported.
    model_config = ConfigDict(json_schema_extra={"required": ["kind", "severity", "body"]})

    kind: Kind
    severity: SeverityField
    title: Title
    department: Department
    topic: Topic
    urgency: Urgency
    certainty: Certainty
    category: Category
    event: Event
    sender_id: SenderId
    validity_minutes: Annotated[
        Annotated[int, Field(ge=0, le=MAX_VALIDITY_MINUTES)], BeforeValidator(_validity), Field(default=0)
    ]
    flash: Flash
    scheduled_for: ScheduledFor
    expires_at: ExpiresAt
    zone_ids: Annotated[list[int], BeforeValidator(_zone_ids), Field(default_factory=list)]
    area: Area
    hazard: Hazard
    template: Template
    body: Body
    variants: Variants
    question: Question
    cap_status: CapStatusField
    test_group_id: Annotated[
        int | None,
        BeforeValidator(_test_group_id),
        Field(default=None, description="an exercise or test goes to this test group's phones"),
    ]
    confirm_real_target: Annotated[
        bool,
        BeforeValidator(_confirm),
        Field(
            default=False,
            description="the second confirmation: an exercise or test without a test group goes to the real "
            "target's residents, every text starting with the exercise prefix",
        ),
    ]
    template_id: TemplateId
    values: Values

    @model_validator(mode="after")
    def _rules_across_fields(self) -> CampaignInput:
        if self.kind == CampaignKind.INFO.value:
            if self.topic is None:
                raise ValueError(f"an info campaign needs a topic: one of {', '.join(TOPICS)}")
            choice(TOPICS, "topic")(self.topic)
        else:
            self.topic = None  # alerts reach everyone in the target whatever their topics
        if self.flash and self.severity != Severity.EXTREME.value:
            raise ValueError("flash SMS is only for extreme alerts")
        return self


# What the API and the UI may set; everything else is derived.
FIELDS = tuple(CampaignInput.model_fields)


class FollowUpInput(_Input):
    """An update or all-clear of a sent campaign: the rest (target, kind, topic, …) is the original's."""

    # Only what the client sent is checked here (absent fields stay the original's, then the whole is checked
    # as a CampaignInput): defaults are not validated.
    model_config = ConfigDict(json_schema_extra={"required": ["body"]}, validate_default=False)
    unknown_message: ClassVar[str] = "unknown field(s) for a follow-up"

    body: Body
    title: Title
    variants: Variants
    severity: Annotated[SeverityField, Field(default=None)]
    urgency: Annotated[Urgency, Field(default=None)]
    certainty: Annotated[Certainty, Field(default=None)]
    event: Event
    sender_id: SenderId
    flash: Flash


class FollowUpSliceInput(FollowUpInput):
    """A follow-up to a slice of a sent campaign's recipients (issue 15); `to` is checked against the campaign
    (campaigns.fieldwork.parse_slice), the rest as for an update."""

    model_config = ConfigDict(json_schema_extra={"required": ["to", "body"]}, validate_default=False)

    to: str = Field(
        None,  # type: ignore[assignment]
        description='"answer:<key>" (those whose latest answer to the question is that key), "no_reply" '
        '(delivered, no reply) or "failed" (failed, expired or refused by the SMSC)',
    )


class Reason(BaseModel):
    """Why a campaign is rejected or sent by emergency override (checked by the service: at least a few words)."""

    model_config = ConfigDict(json_schema_extra={"required": ["reason"]})
    reason: str | None = None


# ------------------------------------------------------------------------------------------- answers
# Documented only (the API builds them in app/api/campaigns.py); schemathesis checks every answer against them.
# No field is required: lists and follow-ups leave some out (eta and rate_now exist only while sending). A field
# absent is not a null: `x: int = None  # type: ignore[assignment]` documents an integer that may be left out
# (`int | None` would say it may be null).
class TimeToWarnDetails(BaseModel):
    """How time_to_warn_s was estimated."""

    parts_to_send: int = None  # type: ignore[assignment]
    parts_ahead: int = None  # type: ignore[assignment]
    tps: float = None  # type: ignore[assignment]
    links: list[str] = []
    links_role: Literal["primary", "failover", "configured"] = None  # type: ignore[assignment]
    links_assumed: bool = None  # type: ignore[assignment]
    warnings: list[str] = []


_TIME_TO_WARN_S = Field(
    None,
    description="Estimated seconds from now until the last SMS part is submitted: (parts "
    "to send + alert parts queued ahead) / TPS of the SMSC links up now (configured primaries "
    "when none is up: see time_to_warn.links_assumed). 0 when finished; null in lists for "
    "campaigns not yet sent.",
)


class CampaignPreview(BaseModel):
    recipients: int = None  # type: ignore[assignment]
    by_language: dict[str, Any] = {}
    texts: dict[str, Any] = {}
    total_parts: int = None  # type: ignore[assignment]
    cost: str = None  # type: ignore[assignment]
    currency: str = None  # type: ignore[assignment]
    price_per_part: str = None  # type: ignore[assignment]
    warnings: list[str] = []
    transliteration: dict[str, Any] | None = None
    hazard: Hazard
    time_to_warn_s: float | None = _TIME_TO_WARN_S
    time_to_warn: TimeToWarnDetails = None  # type: ignore[assignment]


class Campaign(BaseModel):
    id: int = None  # type: ignore[assignment]
    kind: str = None  # type: ignore[assignment]
    severity: str = None  # type: ignore[assignment]
    status: Literal[tuple(s.value for s in CampaignStatus)] = None  # type: ignore[valid-type]
    body: str = None  # type: ignore[assignment]
    variants: dict[str, Any] = {}
    question: Question
    replies_until: datetime | None = Field(
        None, description="With a question: replies count for the campaign until then (sent_at + reply_minutes)"
    )
    zone_ids: list[int] = []
    area: list[Any] | None = None
    msg_type: Literal["Alert", "Update", "Cancel"] = None  # type: ignore[assignment]
    reference_id: int | None = None
    cap_status: Literal[tuple(s.value for s in CapStatus)] = Field(  # type: ignore[valid-type]
        None, description="CAP status: actual, exercise or test (`status` is the workflow state)"
    )
    test_group_id: int | None = None
    confirm_real_target: bool = None  # type: ignore[assignment]
    test_of_id: int | None = Field(None, description='a "send test" of this draft')
    follow_up_to: str | None = Field(
        None, description='a follow-up to a slice of reference_id\'s recipients: "answer:<key>", "no_reply", "failed"'
    )
    edits: list[dict[str, Any]] = Field(
        [], description="who wrote what: the creation, then each change of text, target or severity"
    )
    editor_ids: list[int] = Field([], description="users who may not approve it (four-eyes rule)")
    recipients: int | None = None
    encoding: str = None  # type: ignore[assignment]
    parts_per_message: int = None  # type: ignore[assignment]
    counts: dict[str, int] = {}
    warnings: list[str] = []
    cost: str = Field(None, description="decimal, in `currency`")  # type: ignore[assignment]
    currency: str = None  # type: ignore[assignment]
    hazard: Hazard
    time_to_warn_s: float | None = _TIME_TO_WARN_S
    time_to_warn: TimeToWarnDetails = None  # type: ignore[assignment]
    target_frozen_at: datetime | None = Field(
        None,
        description="When the target zones were copied into the campaign (at submit, or at send/schedule "
        "without approval): previews and the send use that copy. null: a draft, whose target "
        "follows its zones",
    )
    eta: datetime = Field(  # type: ignore[assignment]
        None, description="Only while sending: the expected last submit (ISO 8601, UTC), now + time_to_warn_s"
    )
    rate_now: float = Field(None, description="Only while sending: messages per second over the last 10 s")  # type: ignore[assignment]
    template_id: int | None = Field(None, description="the hazard template it was made from (issue 16)")
    template_version: int | None = None
    template_unchanged: bool = Field(None, description="its texts are still the template version's own")  # type: ignore[assignment]
    template_preapproved: bool = Field(  # type: ignore[assignment]
        None,
        description="unchanged texts of a pre-approved version: no second approval when "
        "[campaigns] preapproved_templates_skip_approval is on",
    )


class FollowUpSliceCreated(Campaign):
    """The draft of a follow-up to a slice, with what sending it now would do (the slice counted now)."""

    preview: CampaignPreview = None  # type: ignore[assignment]


class CampaignList(BaseModel):
    items: list[Campaign] = []


class ReplyTally(BaseModel):
    """Keys "1"…"5" (the question's answers: respondents whose latest recognised reply it is), "unrecognised"
    (respondents who sent only unrecognised text), "no_reply" (delivered messages whose phone never replied)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {"type": "integer"}})
    unrecognised: int = None  # type: ignore[assignment]
    no_reply: int = None  # type: ignore[assignment]


class ZoneReplyTally(BaseModel):
    zone_id: int = None  # type: ignore[assignment]
    name: str = None  # type: ignore[assignment]
    tally: ReplyTally = None  # type: ignore[assignment]
    delivered: int = Field(None, description="delivered messages to residents with a place in this zone")  # type: ignore[assignment]
    share: dict[str, float] = Field({}, description="each tally bucket / delivered (0 when none delivered)")


class CampaignReplyItem(BaseModel):
    """One respondent at one of their registered places (several places: several items; none: lat/lon null)."""

    phone: str = None  # type: ignore[assignment]
    answer: str | None = Field(None, description="the key counted (latest recognised reply); null: free text only")
    needs_help: bool = None  # type: ignore[assignment]
    text: str | None = Field(None, description="the latest reply's text")
    received_at: datetime = Field(None, description="the latest reply")  # type: ignore[assignment]
    answered_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None


class CampaignReplies(BaseModel):
    campaign_id: int = None  # type: ignore[assignment]
    question: dict[str, Any] = None  # type: ignore[assignment]
    replies_until: datetime | None = None
    delivered: int = None  # type: ignore[assignment]
    tally: ReplyTally = None  # type: ignore[assignment]
    share: dict[str, float] = Field({}, description="each tally bucket / delivered messages")
    by_zone: list[ZoneReplyTally] = Field([], description="per zone of the frozen target")
    replies: list[CampaignReplyItem] = Field(
        [], description="operators and admins only (approvers get the tallies); a page: limit, offset"
    )
    total: int = Field(None, description="replies rows in all (respondents × places)")  # type: ignore[assignment]
    limit: int = None  # type: ignore[assignment]
    offset: int = None  # type: ignore[assignment]


class SendTest(BaseModel):
    """Which test group a draft's texts are sent to first."""

    model_config = ConfigDict(json_schema_extra={"required": ["test_group_id"]})
    test_group_id: int | None = None


class GroupMember(BaseModel):
    name: str | None = None
    phone: str = Field(description="E.164, e.g. +48601234567 (a mobile number)")
    function: str | None = Field(None, description="e.g. Komendant miejski PSP")
    order: int = Field(0, ge=0, description="the member's place in the group (escalation and lists go by it)")
    deputy_phone: str | None = Field(
        None,
        description="who a call-out escalates to when this member does not confirm: another member's phone or "
        "any mobile number; not the member's own, and deputies never loop (A → B → A), also through other groups",
    )


class GroupInput(BaseModel):
    """A contact group: the crisis-management team, services, media (call-outs, issue 20) or staff phones for
    exercises and tests (kind test). Give `members` with names, or only `phones`, or both (a phone in both counts
    once, with its name). `kind` is required by /api/v1/groups; /api/v1/test-groups always makes it `test`."""

    model_config = ConfigDict(json_schema_extra={"required": ["name", "kind"]})
    name: str | None = None
    kind: Literal["team", "services", "media", "test"] = "test"
    needed: int | None = Field(
        None, ge=1, le=500, description="confirmations a call-out needs; null: all members; at most the members"
    )
    members: list[GroupMember] = Field([], max_length=500)
    phones: list[str] = Field([], description="E.164 phone numbers")


class Group(GroupInput):
    id: int = None  # type: ignore[assignment]
    created_at: datetime = None  # type: ignore[assignment]


class CalloutInput(BaseModel):
    """A call-out (issue 20): a text to groups of staff, services or media, at alert priority. With `ack` the SMS
    ends with "Odpisz 1 = potwierdzam, 2 = nie mogę" and the silent are escalated to their deputies."""

    model_config = ConfigDict(json_schema_extra={"required": ["group_ids", "body"]})
    group_ids: list[int] = Field(description="Live groups with members; a person in several is messaged once")
    body: str = Field(description="The text (at most 600 characters; the reply instruction is added)")
    ack: bool = True
    escalate_after_s: int = Field(300, ge=30, le=86400, description="Seconds without an answer before the deputy")
    reply_minutes: int = Field(120, ge=5, le=10080, description="How long answers are taken")


class CalloutMemberState(BaseModel):
    name: str | None = None
    phone: str
    function: str | None = None
    group_id: int
    group_ids: list[int] = []
    depth: int = Field(0, description="0: a group member; 1-3: a deputy (`deputy_for` the phone stood in for)")
    deputy_for: str | None = None
    state: Literal["sent", "delivered", "confirmed", "declined", "escalated", "no_answer"]
    delivery: str | None = Field(None, description="The SMS's own status (queued, submitted, delivered, failed …)")
    submitted_at: datetime | None = None
    confirmed_at: datetime | None = None
    declined_at: datetime | None = None
    reply_text: str | None = None
    escalated_to: str | None = None
    escalated_at: datetime | None = None


class CalloutGroupCount(BaseModel):
    id: int
    name: str
    kind: str
    members: int
    confirmed: int
    declined: int
    needed: int
    possible: int = Field(description="Confirmations still possible (confirmed + may still answer)")
    unreachable: bool
    unreachable_at: datetime | None = None
    needed_at: datetime | None = Field(None, description="When its confirmations reached `needed`")


class CalloutTimeline(BaseModel):
    sent_at: datetime
    first_submit_at: datetime | None = None
    first_confirmation_at: datetime | None = None
    last_confirmation_at: datetime | None = None
    closed_at: datetime | None = None


class Callout(BaseModel):
    id: int
    status: Literal["open", "closed"]
    body: str
    text: str = Field(description="The SMS as sent, with the reply instruction")
    ack: bool
    escalate_after_s: int
    reply_minutes: int
    created_at: datetime
    created_by: str | None = None
    replies_until: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = Field(None, description="Who closed it (none: its reply window ended)")
    media_of: int | None = Field(None, description="The alert this call-out copies to the media")
    campaign_id: int
    parts: int | None = None
    encoding: str | None = None
    unreachable: bool
    members: list[CalloutMemberState]
    groups: list[CalloutGroupCount]
    first_confirmation_at: datetime | None = None
    last_confirmation_at: datetime | None = None
    timeline: CalloutTimeline


class MediaCopy(BaseModel):
    model_config = ConfigDict(json_schema_extra={"required": ["group_ids"]})
    group_ids: list[int] = Field(description="Media groups (kind media)")
