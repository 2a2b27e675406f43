"""What a message costs, and the ledger that records it.

A message is charged once, when the SMSC accepts it (or, with `[billing] charge_on = "delivered"`, when its
last part is receipted DELIVRD), at the tariff in force at that moment, for the parts the gateway really
sent. Entries are never changed: a correction is a new entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from billing.exceptions import InvalidCorrection, InvalidTariff
from billing.models import ChargeKind, CostEntry, EntryType, Tariff
from billing.reports import local_midnight
from billing.schemas import MONEY_LIMIT, TariffInput
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.config import BillingSettings, get_settings
from syrena_core.db import utcnow
from zones import reach


def _month_start(at: datetime, tz: str) -> datetime:
    """The start of `at`'s local month ([billing] timezone), as a UTC instant."""
    local = at.astimezone(ZoneInfo(tz))
    return local_midnight(local.date().replace(day=1), tz)


def tariff_at(session: Session, at: datetime | None, defaults: BillingSettings, smsc: str | None = None) -> Tariff:
    """The tariff in force at `at` for the SMSC connection `smsc`: its own, else the general one. With no
    general tariff recorded yet, the configured one is recorded as the first, from the start of the current
    month: the month Syrena first sends carries its set-up fee."""
    at = at or utcnow()
    if smsc:
        own = session.scalar(
            select(Tariff)
            .where(Tariff.smsc == smsc, Tariff.valid_from <= at)
            .order_by(Tariff.valid_from.desc())
            .limit(1)
        )
        if own is not None:
            return own
    general = select(Tariff).where(Tariff.smsc.is_(None))
    tariff = session.scalar(general.where(Tariff.valid_from <= at).order_by(Tariff.valid_from.desc()).limit(1))
    if tariff is None:
        tariff = session.scalar(general.order_by(Tariff.valid_from).limit(1))
    if tariff is None:
        first_from = _month_start(at, defaults.timezone)
        # Several workers may get here at once: the unique (smsc, valid_from) lets one insert win.
        session.execute(
            insert(Tariff)
            .values(
                valid_from=first_from,
                currency=defaults.currency,
                price_per_part=defaults.price_per_part,
                monthly_fee=defaults.monthly_fee,
                setup_fee=defaults.setup_fee,
                vat_rate=defaults.vat_rate,
            )
            .on_conflict_do_nothing()
        )
        tariff = session.scalar(general.order_by(Tariff.valid_from).limit(1))
        assert tariff is not None  # inserted just now, or by the worker that won the race
    return tariff


def message_cost(tariff: Tariff, parts: int) -> Decimal:
    return tariff.price_per_part * parts


def list_tariffs(session: Session) -> Sequence[Tariff]:
    return session.scalars(select(Tariff).order_by(Tariff.smsc.nulls_first(), Tariff.valid_from)).all()


def create_tariff(
    session: Session,
    actor: User | None,
    *,
    valid_from: datetime | None,
    price_per_part: Any,
    monthly_fee: Any,
    setup_fee: Any,
    vat_rate: Any,
    currency: Any,
    smsc: Any = None,
) -> Tariff:
    """Add a tariff from `valid_from` on (now when omitted), for one SMSC connection or (smsc None) for all
    without their own. It may not start before the newest charge it would cover: that would re-price costs
    already recorded."""
    fields = TariffInput.check(
        {
            "valid_from": valid_from,
            "smsc": smsc,
            "currency": currency,
            "price_per_part": price_per_part,
            "monthly_fee": monthly_fee,
            "setup_fee": setup_fee,
            "vat_rate": vat_rate,
        }
    )
    valid_from, smsc, currency = fields.valid_from or utcnow(), fields.smsc, fields.currency
    price, monthly, setup, vat = fields.price_per_part, fields.monthly_fee, fields.setup_fee, fields.vat_rate
    covered = select(func.max(CostEntry.charged_at))
    newest_charge = session.scalar(covered.where(CostEntry.smsc == smsc) if smsc else covered)
    if newest_charge is not None and valid_from < newest_charge:
        raise InvalidTariff(
            f"valid_from {valid_from.isoformat()} is before the newest recorded charge "
            f"({newest_charge.isoformat()}): past costs cannot be re-priced"
        )
    if session.scalar(
        select(Tariff.id).where(Tariff.valid_from == valid_from, Tariff.smsc == smsc if smsc else Tariff.smsc.is_(None))
    ):
        raise InvalidTariff(f"a tariff from {valid_from.isoformat()} exists already")
    tariff = Tariff(
        smsc=smsc,
        valid_from=valid_from,
        currency=currency,
        price_per_part=price,
        monthly_fee=monthly,
        setup_fee=setup,
        vat_rate=vat,
    )
    session.add(tariff)
    session.flush()
    record(
        session,
        "tariff.create",
        actor,
        "tariff",
        tariff.id,
        {
            "smsc": smsc,
            "valid_from": valid_from.isoformat(),
            "price_per_part": str(price),
            "monthly_fee": str(monthly),
            "setup_fee": str(setup),
            "vat_rate": str(vat),
            "currency": currency.upper(),
        },
    )
    return tariff


# Zone attribution, decided once when the cost is recorded: among the campaign's target zones, the lowest
# id of those that reach the subscriber by zones.reach's rule — a zone covering one of their locations, or one
# meeting a zone they subscribed to by SMS code (`l.zone_id = z.id` first: a zone meets itself, and the short cut
# spares the geometry test). Every message thus lands in exactly one zone (NULL: reached only through
# a drawn area), and zone totals add up to the campaign total. An exercise's or test's messages (campaign.cap_status
# not 'actual', issue 16) are charged to their own kind, `exercise`, which reports show apart from real traffic.
# A call-out's messages (campaign kind 'callout', issue 20: the crisis team, services, media) are charged as
# `internal`, the city reaching its own people, on a line of their own in reports. Exercise is tested first: a
# call-out rehearsed in an exercise is exercise money, like any other exercise.
_CHARGE_MESSAGES = text(f"""
INSERT INTO cost_entry (charged_at, entry_type, kind, message_id, send_round, campaign_id, zone_id, department,
                        phone, encoding, parts, smsc, smsc_message_ids, tariff_id, price_per_part, amount, currency)
SELECT :at, 'charge',
       CASE WHEN c.cap_status <> 'actual' THEN 'exercise' WHEN c.kind = 'callout' THEN 'internal' ELSE c.kind END,
       m.id, m.send_round, m.campaign_id,
       (SELECT min(cz.zone_id)
        FROM campaign_zone cz JOIN zone z ON z.id = cz.zone_id
        JOIN subscriber_location l ON l.subscriber_id = m.subscriber_id
        WHERE cz.campaign_id = m.campaign_id
          AND ({reach.location_in("z.geom", "l.geom")}
               OR l.zone_id = z.id
               OR (l.zone_id IS NOT NULL AND EXISTS (
                   SELECT 1 FROM zone sz WHERE sz.id = l.zone_id AND {reach.zone_meets("z.geom", "sz.geom")})))),
       c.department, m.phone, m.encoding, m.parts, m.smsc,
       ARRAY(SELECT p.smsc_message_id FROM message_part p WHERE p.message_id = m.id AND p.status <> 'superseded'
             ORDER BY p.part_no),
       :tariff_id, :price, :price * m.parts, :currency
FROM message m JOIN campaign c ON c.id = m.campaign_id
WHERE m.id = ANY(CAST(:ids AS bigint[])) AND m.parts IS NOT NULL AND m.smsc IS NOT DISTINCT FROM :smsc
ORDER BY m.id
ON CONFLICT (message_id, send_round) WHERE entry_type = 'charge' AND message_id IS NOT NULL DO NOTHING
""")


_CONNECTIONS = text("SELECT DISTINCT smsc FROM message WHERE id = ANY(CAST(:ids AS bigint[]))")


def _charge(session: Session, message_ids: Sequence[int], at: datetime, billing: BillingSettings) -> None:
    """One statement per SMSC connection among the messages (a chunk usually went through one)."""
    ids = list(message_ids)
    for smsc in session.scalars(_CONNECTIONS, {"ids": ids}).all():
        tariff = tariff_at(session, at, billing, smsc)
        session.execute(
            _CHARGE_MESSAGES,
            {
                "at": at,
                "ids": ids,
                "smsc": smsc,
                "tariff_id": tariff.id,
                "price": tariff.price_per_part,
                "currency": tariff.currency,
            },
        )


def charge_accepted(session: Session, message_ids: Sequence[int], at: datetime, billing: BillingSettings) -> None:
    """Record the cost of messages the SMSC has just accepted (their parts already stored), in one statement."""
    if message_ids and billing.charge_on == "accepted":
        _charge(session, message_ids, at, billing)


# `status || ''`: see campaigns.delivery._SETTLE_MESSAGES (the ids drive, not stale status statistics).
_NEWLY_DELIVERED = text("SELECT id FROM message WHERE id = ANY(CAST(:ids AS bigint[])) AND status || '' = 'delivered'")


def charge_delivered(session: Session, message_ids: Sequence[int], at: datetime | None = None) -> None:
    """With charge_on = "delivered": record the cost of those of `message_ids` now delivered (every part), as
    of `at` (default now)."""
    billing = get_settings().billing
    if not message_ids or billing.charge_on != "delivered":
        return
    delivered = session.scalars(_NEWLY_DELIVERED, {"ids": list(message_ids)}).all()
    if delivered:
        _charge(session, delivered, at or utcnow(), billing)


def record_transactional_charge(
    session: Session,
    *,
    phone: str,
    parts: int,
    encoding: str,
    smsc_message_ids: Sequence[str],
    at: datetime | None = None,
    smsc: str | None = None,
    billing: BillingSettings | None = None,
    kind: str = ChargeKind.TRANSACTIONAL.value,
) -> CostEntry:
    """Charge one transactional SMS (verification code, keyword reply) the SMSC accepted, in the caller's
    transaction. Charged on acceptance whatever `charge_on` says: these have no message row to settle.
    `kind` says whose traffic it is when not a resident's: `internal` for a call-out's SMS to the duty officer."""
    billing = billing or get_settings().billing
    at = at or utcnow()
    tariff = tariff_at(session, at, billing, smsc)
    entry = CostEntry(
        charged_at=at,
        entry_type=EntryType.CHARGE.value,
        kind=ChargeKind(kind).value,
        phone=phone,
        encoding=encoding,
        parts=parts,
        smsc=smsc or None,
        smsc_message_ids=list(smsc_message_ids),
        tariff_id=tariff.id,
        price_per_part=tariff.price_per_part,
        amount=message_cost(tariff, parts),
        currency=tariff.currency,
    )
    session.add(entry)
    session.flush()
    return entry


def accepted_charge(phone: str, result: Any, campaign_id: int | None = None) -> dict[str, Any]:
    """The charge of an SMS the SMSC accepted (a smsc_gateway SendResult: parts, encoding, smsc_message_ids,
    smsc) to `phone`, as record_transactional_charges takes it."""
    charge = {
        "phone": phone,
        "parts": result.parts,
        "encoding": result.encoding,
        "smsc_message_ids": result.smsc_message_ids,
        "smsc": result.smsc or None,
    }
    if campaign_id is not None:
        charge["campaign_id"] = campaign_id
    return charge


def record_transactional_charges(
    session: Session,
    charges: Sequence[dict[str, Any]],
    at: datetime | None = None,
    billing: BillingSettings | None = None,
    kind: str = ChargeKind.TRANSACTIONAL.value,
) -> list[CostEntry]:
    """Many transactional charges at once (the replies to a batch of keyword SMS), like
    `record_transactional_charge` for each ({phone, parts, encoding, smsc_message_ids, smsc}, and optionally
    the campaign_id it belongs to: a call-out's SMS to its duty officer counts in the call-out's cost): each
    SMSC's tariff is read once and the entries go in with one INSERT. All are charged as `kind`."""
    billing = billing or get_settings().billing
    at = at or utcnow()
    kind = ChargeKind(kind).value  # a misspelt kind would land among real traffic under an unknown name: refuse it
    tariffs: dict[str | None, Tariff] = {}
    entries = []
    for charge in charges:
        smsc = charge.get("smsc") or None
        if smsc not in tariffs:
            tariffs[smsc] = tariff_at(session, at, billing, smsc)
        tariff = tariffs[smsc]
        entries.append(
            CostEntry(
                charged_at=at,
                entry_type=EntryType.CHARGE.value,
                kind=kind,
                campaign_id=charge.get("campaign_id"),
                phone=charge["phone"],
                encoding=charge["encoding"],
                parts=charge["parts"],
                smsc=smsc,
                smsc_message_ids=list(charge["smsc_message_ids"]),
                tariff_id=tariff.id,
                price_per_part=tariff.price_per_part,
                amount=message_cost(tariff, charge["parts"]),
                currency=tariff.currency,
            )
        )
    session.add_all(entries)
    session.flush()
    return entries


def record_correction(
    session: Session, actor: User | None, corrects_id: Any, amount: Any, parts: Any, note: Any
) -> CostEntry:
    """A correction to an entry: a new entry with the difference (negative to refund), never an edit."""
    # bool is an int to Python, and ids beyond bigint would fail in the database: neither is an entry id.
    valid_id = isinstance(corrects_id, int) and not isinstance(corrects_id, bool) and 0 < corrects_id < 2**63
    corrects = session.get(CostEntry, corrects_id) if valid_id else None
    if corrects is None:
        raise InvalidCorrection(f"no ledger entry with id {corrects_id!r}")
    if not isinstance(note, str) or not note.strip():
        raise InvalidCorrection("say why: a correction needs a note")
    if not isinstance(parts, int) or isinstance(parts, bool):
        raise InvalidCorrection("parts is a whole number (negative to take parts back)")
    try:
        difference = Decimal(amount) if isinstance(amount, str) else None
    except InvalidOperation:
        difference = None
    if (
        difference is None
        or not difference.is_finite()
        or abs(difference) >= MONEY_LIMIT
        or difference != difference.quantize(Decimal("0.0001"))
    ):
        raise InvalidCorrection("amount is a decimal string with at most 4 places, negative for a refund")
    entry = CostEntry(
        charged_at=utcnow(),
        entry_type=EntryType.CORRECTION.value,
        kind=corrects.kind,
        message_id=corrects.message_id,
        campaign_id=corrects.campaign_id,
        zone_id=corrects.zone_id,
        department=corrects.department,
        phone=corrects.phone,
        encoding=corrects.encoding,
        parts=parts,
        smsc=corrects.smsc,
        smsc_message_ids=[],
        tariff_id=corrects.tariff_id,
        price_per_part=corrects.price_per_part,
        amount=difference,
        currency=corrects.currency,
        corrects_id=corrects.id,
        note=note.strip(),
    )
    session.add(entry)
    session.flush()
    record(
        session,
        "cost.correct",
        actor,
        "cost_entry",
        corrects.id,
        {"amount": str(difference), "parts": parts, "note": note.strip()},
    )
    return entry
