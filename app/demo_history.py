"""The demo's past month: the tariff as a row, and campaigns sent, receipted and charged in the previous
calendar month (local time), so a fresh install's dashboard, campaign pages, finance report and
reconciliation show real numbers.

Nothing here writes totals by hand. Each campaign goes the way a real one goes: composed
(campaigns.service.create_campaign / follow_up), snapshotted into messages (campaigns.service.send), its
SMSC answers recorded and charged (campaigns.delivery.record_send_results → billing.ledger), its receipts
stored and matched (store_receipts, match_receipts), each step at its past moment. What the gateway would
have said (accepted, refused, delivered, undeliverable) comes from a seeded random generator, so every
demo database has the same history. Only the campaigns' own "when" fields (created, sent, queued) are set
afterwards to that past moment: those functions stamp the present.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from billing.ledger import tariff_at
from billing.models import CostEntry, Tariff
from billing.reconciliation import import_operator_csv
from billing.reports import local_midnight, next_month, previous_month
from campaigns import composition, control, service
from campaigns.delivery import match_receipts, record_send_results, store_receipts
from campaigns.models import Campaign, Message
from smsc_gateway.interface import DeliveryReceipt, SendResult
from syrena_core.config import Settings
from syrena_core.db import utcnow
from zones.models import Zone

# The demo's campaigns are charged to departments with this suffix: that is how a demo campaign is told
# from a real one (a real department is never called "… (demo)").
DEMO_SUFFIX = " (demo)"
CRISIS = "Wydział Zarządzania Kryzysowego" + DEMO_SUFFIX
WATER = "Aquanet — wodociągi" + DEMO_SUFFIX
PRESS = "Biuro Prasowe" + DEMO_SUFFIX
HISTORY_SEED = 20260102
BATCH = 500  # messages whose SMSC answers are recorded together (a job's batch)
OPERATOR_FILE = "demo-operator.csv"

# The demo's campaign times: backdated after the domain functions stamped them with the present.
_BACKDATE_MESSAGES = text("""
UPDATE message SET queued_at = :at, attempts = CASE WHEN status = 'cancelled' THEN 0 ELSE 1 END
WHERE campaign_id = :cid
""")
_LOCK = text("SELECT pg_advisory_xact_lock(1398362693, 57137)")  # 0x53595245, 0xDF31: the history's own
# The tables a send fills, analysed once its first batch is in: the planner otherwise takes them for as empty
# as before the demo (autovacuum has had no time to look) and matched each receipt by scanning every part.
_ANALYZE_SENDING = text("ANALYZE message; ANALYZE message_part; ANALYZE delivery_receipt")
_DEMO_CAMPAIGNS = select(func.count()).select_from(Campaign).where(Campaign.department.like("%" + DEMO_SUFFIX))
_REAL_CAMPAIGNS = (
    select(func.count()).select_from(Campaign).where(func.coalesce(Campaign.department, "").not_like("%" + DEMO_SUFFIX))
)


class RealCampaigns(Exception):
    """The database holds campaigns the demo did not make: history mixed into them would mislead."""


@dataclass(frozen=True)
class Outcome:
    """What the simulated SMSC does with a campaign's messages (shares of all of them)."""

    refused: float = 0.0  # refused at submit (ESME_RINVDSTADR): failed, never charged
    undelivered: float = 0.0  # accepted, then UNDELIV: failed, charged
    expired: float = 0.0  # accepted, then EXPIRED (the phone was off for the validity period), charged
    seconds_per_batch: float = 2.0  # how fast the batches went out
    receipt_after: float = 6.0  # seconds from a batch's submit to its receipts


def history_month(now: datetime, tz: str) -> date:
    """The first day of the calendar month before `now`'s, in local time: the month the history is in."""
    return previous_month(now.astimezone(ZoneInfo(tz)).date().replace(day=1))


def _local(month: date, day: int, hour: int, minute: int, tz: str) -> datetime:
    return datetime.combine(month.replace(day=day), time(hour, minute), ZoneInfo(tz)).astimezone(ZoneInfo("UTC"))


def demo_campaigns(session: Session) -> int:
    return session.scalar(_DEMO_CAMPAIGNS) or 0


def ensure_tariff(session: Session, settings: Settings, since: datetime) -> Tariff:
    """The configured tariff as a row from `since` on (billing.ledger records it at the first charge
    otherwise): the finance pages show it, and its set-up fee, from the first day."""
    return tariff_at(session, since, settings.billing)


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Smsc:
    """What the SMSC would answer: ids from one counter (hexadecimal, like the simulator's), outcomes drawn."""

    def __init__(self, name: str, rng: random.Random):
        self.name, self.rng, self.next_id = name, rng, 0x5E_0000
        self._analysed: dict[str, composition.TextAnalysis] = {}  # a campaign has a text or three

    def ids(self, parts: int) -> list[str]:
        first, self.next_id = self.next_id, self.next_id + parts
        return [f"{n:x}" for n in range(first, first + parts)]

    def result(self, ref: int, body: str, outcome: Outcome, at: datetime) -> SendResult:
        analysis = self._analysed.get(body) or self._analysed.setdefault(body, composition.analyse(body))
        if self.rng.random() < outcome.refused:
            return SendResult(ref, False, [], analysis.parts, analysis.encoding, "ESME_RINVDSTADR", smsc=self.name)
        return SendResult(
            ref,
            True,
            self.ids(analysis.parts),
            analysis.parts,
            analysis.encoding,
            smsc=self.name,
            accepted_at=at.timestamp(),
        )

    def receipts(self, result: SendResult, outcome: Outcome) -> list[DeliveryReceipt]:
        roll = self.rng.random()
        state, error = "DELIVRD", "000"
        if roll < outcome.undelivered:
            state, error = "UNDELIV", "001"
        elif roll < outcome.undelivered + outcome.expired:
            state, error = "EXPIRED", "000"
        return [
            DeliveryReceipt(sid, state, error, smsc=self.name, message_ref=result.ref, part_no=n)
            for n, sid in enumerate(result.smsc_message_ids, 1)
        ]


def _deliver(
    session: Session, settings: Settings, campaign: Campaign, at: datetime, smsc: _Smsc, outcome: Outcome
) -> None:
    """Snapshot the recipients, then record the SMSC's answers and receipts batch by batch, as the jobs and the
    receipt writer would have, at `at` and the seconds after it."""
    no_approval = settings.campaigns.model_copy(update={"require_approval": False})
    session.flush()  # its backdated creation: the snapshot re-reads the row
    service.send(session, campaign, None, no_approval, now=at)
    campaign.sent_at = campaign.target_frozen_at = at
    session.execute(_BACKDATE_MESSAGES, {"cid": campaign.id, "at": at})
    texts: dict[str | None, str] = {None: campaign.body}
    texts.update(campaign.variants or {})
    messages = session.execute(
        select(Message.id, Message.language).where(Message.campaign_id == campaign.id).order_by(Message.id)
    ).all()
    for n, batch in enumerate(_chunks(messages, BATCH)):
        submitted = at + timedelta(seconds=2 + n * outcome.seconds_per_batch)
        results = [
            smsc.result(ref, texts.get(language) or campaign.body, outcome, submitted) for ref, language in batch
        ]
        record_send_results(session, results, settings.billing, at=submitted)
        if n == 0:
            session.execute(_ANALYZE_SENDING)
        receipts = [r for result in results if result.accepted for r in smsc.receipts(result, outcome)]
        receipted = submitted + timedelta(seconds=outcome.receipt_after)
        store_receipts(session, receipts, at=receipted)
        match_receipts(session, at=receipted)
    session.flush()
    session.refresh(campaign)


def _zone_ids(session: Session, *slugs: str) -> list[int]:
    ids = dict(session.execute(select(Zone.slug, Zone.id).where(Zone.slug.in_(slugs))).all())
    missing = [s for s in slugs if s not in ids]
    if missing:
        raise LookupError(
            f"the demo city's zones ({', '.join(missing)}) are not in the database: the history needs the demo "
            "city (load it into an empty database)"
        )
    return [ids[s] for s in slugs]


def _create(session: Session, settings: Settings, at: datetime, **fields) -> Campaign:
    campaign = service.create_campaign(
        session, None, settings=settings.campaigns, zone_limits=settings.zones, now=at, **fields
    )
    _created_at(campaign, at)
    return campaign


def _created_at(campaign: Campaign, at: datetime) -> None:
    """Composed at `at`: its creation time and its first (only) entry in the list of edits."""
    campaign.created_at = at
    campaign.edits = [{**edit, "at": at.isoformat()} for edit in campaign.edits or []]


def _operator_csv(session: Session, start: datetime, end: datetime, rng: random.Random) -> str:
    """The operator's invoice lines for the month as an operator sends them: one per message, first part's id.
    Like a real one it disagrees a little: two messages missing, one charged twice the parts, one unknown."""
    entries = session.execute(
        select(CostEntry.smsc_message_ids, CostEntry.charged_at, CostEntry.parts, CostEntry.amount)
        .where(CostEntry.charged_at >= start, CostEntry.charged_at < end, CostEntry.entry_type == "charge")
        .order_by(CostEntry.id)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["message_id", "time", "parts", "amount"])
    skipped = set(rng.sample(range(len(entries)), 2)) if len(entries) > 10 else set()
    doubled = rng.randrange(len(entries)) if entries else -1
    for n, (ids, at, parts, amount) in enumerate(entries):
        if n in skipped or not ids:
            continue
        factor = 2 if n == doubled else 1
        writer.writerow([ids[0], at.isoformat(), parts * factor, f"{amount * factor:.4f}"])
    if entries:
        writer.writerow(["ffffff01", entries[-1][1].isoformat(), 1, "0.1800"])
    return out.getvalue()


def load_demo_history(session: Session, settings: Settings, now: datetime | None = None, force: bool = False) -> str:
    """The tariff row and the past month's campaigns; the caller commits. Does nothing when the demo's
    campaigns are there; refuses (RealCampaigns) when other campaigns are, unless `force`."""
    session.execute(_LOCK)  # two loads at once: the second waits, then finds the history there
    now = now or utcnow()
    tz = settings.billing.timezone  # the month the finance report calls "last month"
    month = history_month(now, tz)
    ensure_tariff(session, settings, local_midnight(month, tz))
    loaded = demo_campaigns(session)
    if loaded:
        return f"the demo history is already loaded ({loaded} campaigns); nothing changed"
    real = session.scalar(_REAL_CAMPAIGNS) or 0
    if real and not force:
        raise RealCampaigns(
            f"the database holds {real:,} campaign(s) the demo did not make: a demo history mixed into them "
            "would mislead the finance report and reconciliation. Use a fresh database, or `flask demo load --force`"
            " to add it anyway"
        )
    rng = random.Random(HISTORY_SEED)
    smsc = _Smsc(settings.smsc.name, rng)

    info_at = _local(month, 6, 10, 30, tz)
    info = _create(
        session,
        settings,
        info_at - timedelta(minutes=25),
        kind="info",
        severity="minor",
        title="Półmaraton: utrudnienia",
        department=PRESS,
        topic="events",
        zone_ids=_zone_ids(session, "stare-miasto", "jezyce", "lazarz"),
        body="W niedzielę 8-13 półmaraton: zamknięte ulice w centrum, Jeżycach i na Łazarzu. "
        "Objazdy i komunikacja zastępcza: poznan.pl/polmaraton",
        variants={
            "en": "Sunday 8-13 half marathon: streets closed in the centre, Jezyce and Lazarz. "
            "Detours: poznan.pl/polmaraton"
        },
    )
    _deliver(session, settings, info, info_at, smsc, Outcome(undelivered=0.01, expired=0.01))

    flood_at = _local(month, 12, 5, 40, tz)
    flood = _create(
        session,
        settings,
        flood_at - timedelta(minutes=12),
        kind="alert",
        severity="severe",
        title="Ostrzeżenie powodziowe",
        event="Powódź",
        department=CRISIS,
        zone_ids=_zone_ids(session, "wilda", "rataje"),
        hazard={"lon": 16.948, "lat": 52.392},
        body="ALARM POWODZIOWY: Warta przekroczyła stan alarmowy. Mieszkańcy Wildy i Rataj przy rzece: przenieście "
        "rzeczy na wyższe piętra, nie wjeżdżajcie na zalane drogi. Info: 19 115",
        variants={
            "en": "FLOOD WARNING: the Warta is above the alarm level. Wilda and Rataje residents near the river: "
            "move belongings upstairs, do not drive on flooded roads. Info: 19 115",
            "uk": "ПОПЕРЕДЖЕННЯ ПРО ПОВІНЬ: рівень Варти вище тривожного. Жителі Вільди та Ратаїв біля річки: "
            "перенесіть речі на верхні поверхи. Інфо: 19 115",
        },
    )
    _deliver(session, settings, flood, flood_at, smsc, Outcome(undelivered=0.01, expired=0.02, seconds_per_batch=1))

    clear_at = _local(month, 13, 18, 5, tz)
    clear = service.follow_up(
        session,
        flood,
        None,
        "Cancel",
        {
            "body": "ODWOŁANIE: stan Warty spadł poniżej alarmowego, zagrożenie powodziowe minęło. Drogi na Wildzie "
            "i Ratajach są przejezdne.",
            # In every language the alert was sent in: a resident warned in Ukrainian is told it is over in Ukrainian.
            "variants": {
                "en": "ALL CLEAR: the Warta is below the alarm level again, the flood danger is over.",
                "uk": "ВІДБІЙ: рівень Варти знову нижче тривожного, загроза повені минула.",
            },
        },
        settings.campaigns,
        now=clear_at,
    )
    _created_at(clear, clear_at - timedelta(minutes=8))
    _deliver(session, settings, clear, clear_at, smsc, Outcome(undelivered=0.01, expired=0.01))

    water_at = _local(month, 19, 9, 15, tz)
    water = _create(
        session,
        settings,
        water_at - timedelta(minutes=20),
        kind="alert",
        severity="moderate",
        title="Skażenie wody",
        event="Skażenie wody pitnej",
        department=WATER,
        zone_ids=_zone_ids(session, "grunwald", "junikowo"),
        body="Aquanet: woda z kranu na Grunwaldzie i Junikowie nie nadaje się do picia do odwołania (bakterie coli). "
        "Beczkowozy: ul. Bukowska 1, ul. Malwowa 20.",
    )
    _deliver(
        session,
        settings,
        water,
        water_at,
        smsc,
        Outcome(refused=0.02, undelivered=0.06, expired=0.02, seconds_per_batch=3, receipt_after=20),
    )

    draft_at = _local(month, 24, 14, 0, tz)
    draft = _create(
        session,
        settings,
        draft_at,
        kind="alert",
        severity="minor",
        title="Test syren",
        department=CRISIS,
        zone_ids=_zone_ids(session, "stare-miasto"),
        body="Test syren alarmowych w środę o 12:00. To tylko test, nic nie rób.",
    )
    control.cancel(session, draft, None, "Test syren przełożony; kampania niepotrzebna.")
    draft.completed_at = draft_at + timedelta(hours=2)
    session.flush()

    start, end = local_midnight(month, tz), local_midnight(next_month(month), tz)
    batch = import_operator_csv(session, None, month, _operator_csv(session, start, end, rng), OPERATOR_FILE)
    sent = [info, flood, clear, water]
    messages = sum(c.recipients or 0 for c in sent)
    return (
        f"demo history of {month:%Y-%m} loaded: {len(sent) + 1} campaigns ({messages:,} messages), "
        f"the operator's file of {batch.rows:,} lines for reconciliation"
    )
