"""Contact groups: named lists of people who are not residents — staff phones with names.

Issue 16 uses groups of kind `test`: an exercise or test goes to one (campaigns.exercises), and "send test" sends
a draft's texts to one first. The call-outs of issue 20 add the kinds team, services and media on the same tables
(ContactGroup, ContactGroupMember in campaigns.models). Admins manage them; every change is audited. A deleted
group is only marked so: the campaigns sent to it keep naming it, and nothing can be sent to it any more.

Deputies: a member may name a deputy (`deputy_phone`: another member's phone or any mobile number) whom a
call-out escalates to when the member does not confirm. A person is one phone across all groups, so deputies
never form a loop (A → B → A), within a group or through other live groups: `_check_deputies` refuses a save that
would close one, naming the loop. The escalation asks `deputy_of` / `deputy_map`.

Members also come and go as CSV (`members_csv`, `import_members_csv`): columns name, phone, function, order,
deputy_phone; the import replaces the members, or changes nothing and names the line that is wrong.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from campaigns.exceptions import GroupNotFound, InvalidGroup
from campaigns.models import ContactGroup, ContactGroupMember, GroupKind
from subscribers.exceptions import SubscriberError
from subscribers.phones import normalise_mobile
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.db import utcnow
from syrena_core.text import check_characters, spreadsheet_text

MAX_MEMBERS = 500
NAME_LIMIT = 120


def _text(value: Any, what: str, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidGroup(f"{what} is required")
        return None
    if not isinstance(value, str) or len(value.strip()) > NAME_LIMIT:
        raise InvalidGroup(f"{what} is text of at most {NAME_LIMIT} characters")
    check_characters(value.strip(), what, InvalidGroup, line_breaks=False)
    return value.strip()


def _phone(raw: Any, what: str) -> str:
    try:
        return normalise_mobile(raw)
    except SubscriberError as e:
        raise InvalidGroup(f"{what}: {raw!r} is not a valid mobile number in E.164 ({e})") from None


def _members(data: dict[str, Any]) -> list[dict[str, Any]]:
    """`members` [{"name", "phone", "function", "order", "deputy_phone"}] and/or `phones` [E.164 …] (a phone
    listed in both counts once, with its name); each phone once, in the order given."""
    members = data.get("members")
    phones = data.get("phones")
    if members is None and phones is None:
        raise InvalidGroup('a group needs "members" [{"name", "phone"}] or "phones" [E.164 …]')
    if members is not None and not isinstance(members, list):
        raise InvalidGroup('members must be a list of {"name", "phone"} objects')
    if phones is not None and (not isinstance(phones, list)):
        raise InvalidGroup("phones must be a list of phone numbers in E.164 (+48…)")
    out: dict[str, dict[str, Any]] = {}
    for n, member in enumerate(members or []):
        if not isinstance(member, dict):
            raise InvalidGroup(f'members[{n}] must be an object {{"name", "phone"}}')
        unknown = sorted(set(member) - {"name", "phone", "function", "order", "deputy_phone"})
        if unknown:
            raise InvalidGroup(f"members[{n}]: unknown field(s): {', '.join(map(str, unknown))}")
        phone = _phone(member.get("phone"), f"members[{n}].phone")
        order = member.get("order", n)
        if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order < 10_000:
            raise InvalidGroup(f"members[{n}].order must be a whole number from 0")
        deputy = _phone(member["deputy_phone"], f"members[{n}].deputy_phone") if member.get("deputy_phone") else None
        if deputy == phone:
            raise InvalidGroup(f"members[{n}].deputy_phone: {phone} cannot be their own deputy")
        out.setdefault(
            phone,
            {
                "phone": phone,
                "name": _text(member.get("name"), f"members[{n}].name"),
                "function": _text(member.get("function"), f"members[{n}].function"),
                "position": order,
                "deputy_phone": deputy,
            },
        )
    for n, raw in enumerate(phones or []):
        phone = _phone(raw, f"phones[{n}]")
        out.setdefault(
            phone, {"phone": phone, "name": None, "function": None, "position": len(out), "deputy_phone": None}
        )
    if not out:
        raise InvalidGroup("a group needs at least one member")
    if len(out) > MAX_MEMBERS:
        raise InvalidGroup(f"a group has at most {MAX_MEMBERS} members")
    return list(out.values())


def _needed(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_MEMBERS:
        raise InvalidGroup(f"needed must be a whole number from 1 to {MAX_MEMBERS}, or null (all)")
    return raw


_FIELDS = {"name", "kind", "needed", "members", "phones"}
KINDS = tuple(k.value for k in GroupKind)


def _check(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidGroup("a group is an object {name, members or phones}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidGroup(f"unknown field(s): {', '.join(map(str, unknown))}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidGroup(f"kind is required: one of {', '.join(KINDS)}")
    fields = {
        "name": _text(data.get("name"), "the name", required=True),
        "kind": kind,
        "needed": _needed(data.get("needed")),
        "members": _members(data),
    }
    if fields["needed"] is not None and fields["needed"] > len(fields["members"]):
        raise InvalidGroup(
            f"needed ({fields['needed']}) is more than the group's {len(fields['members'])} member(s): "
            "a call-out could never be confirmed"
        )
    return fields


def _member_json(m: ContactGroupMember) -> dict[str, Any]:
    """A member as the API shows it and the audit log records it."""
    return {
        "name": m.name,
        "phone": m.phone,
        "function": m.function,
        "order": m.position,
        "deputy_phone": m.deputy_phone,
    }


def group_json(group: ContactGroup) -> dict[str, Any]:
    members = [_member_json(m) for m in group.members]
    return {
        "id": group.id,
        "name": group.name,
        "kind": group.kind,
        "needed": group.needed,
        "phones": [m["phone"] for m in members],
        "members": members,
        "created_at": group.created_at.isoformat(),
    }


def list_groups(session: Session, kind: str | None = None) -> Sequence[ContactGroup]:
    """Live groups by name, of `kind` when given (else of every kind); InvalidGroup for an unknown kind."""
    if kind is not None and kind not in KINDS:
        raise InvalidGroup(f"kind must be one of {', '.join(KINDS)}")
    query = select(ContactGroup).where(ContactGroup.deleted_at.is_(None)).order_by(ContactGroup.name, ContactGroup.id)
    if kind:
        query = query.where(ContactGroup.kind == kind)
    return session.scalars(query).all()


def get_group(session: Session, group_id: Any, kind: str | None = None) -> ContactGroup:
    """A group not deleted (of `kind` when given); GroupNotFound otherwise."""
    valid = isinstance(group_id, int) and not isinstance(group_id, bool) and 0 < group_id < 2**31
    group = session.get(ContactGroup, group_id) if valid else None
    if group is None or group.deleted_at is not None or (kind and group.kind != kind):
        raise GroupNotFound(f"no {kind + ' ' if kind else ''}group with id {group_id!r}")
    return group


def _set_members(group: ContactGroup, members: list[dict[str, Any]]) -> None:
    group.members = [ContactGroupMember(**m) for m in members]


def create_group(session: Session, actor: User | None, data: Any) -> ContactGroup:
    fields = _check(data)
    _check_deputies(session, fields["members"], None)
    group = ContactGroup(name=fields["name"], kind=fields["kind"], needed=fields["needed"])
    _set_members(group, fields["members"])
    session.add(group)
    session.flush()
    record(session, "group.create", actor, "contact_group", group.id, after=_audited(group))
    return group


def update_group(session: Session, group: ContactGroup, actor: User | None, data: Any) -> ContactGroup:
    """Replace the group's name and members (a PUT: the whole group)."""
    fields = _check(data)
    _check_deputies(session, fields["members"], group.id)
    before = _audited(group)
    group.name, group.kind, group.needed = fields["name"], fields["kind"], fields["needed"]
    _set_members(group, fields["members"])
    session.flush()
    record(session, "group.update", actor, "contact_group", group.id, before=before, after=_audited(group))
    return group


def delete_group(session: Session, group: ContactGroup, actor: User | None) -> None:
    group.deleted_at = utcnow()
    record(session, "group.delete", actor, "contact_group", group.id, before=_audited(group))


def _audited(group: ContactGroup) -> dict[str, Any]:
    # Phones in the audit log like everywhere: who was in the group is the point of the record.
    return {
        "name": group.name,
        "kind": group.kind,
        "needed": group.needed,
        "members": [_member_json(m) for m in group.members],
    }


# Deputies ---------------------------------------------------------------------------------------------------------

# Every live group's deputy rows, the lowest group first: the order deputy_of falls back in, so a loop is reported
# along the chain an escalation would follow. A few thousand rows at most (500 members a group).
_LIVE_DEPUTIES = (
    select(ContactGroupMember.group_id, ContactGroupMember.phone, ContactGroupMember.deputy_phone)
    .join(ContactGroup, ContactGroup.id == ContactGroupMember.group_id)
    .where(ContactGroup.deleted_at.is_(None), ContactGroupMember.deputy_phone.is_not(None))
    .order_by(ContactGroupMember.group_id, ContactGroupMember.id)
)


def _check_deputies(session: Session, members: list[dict[str, Any]], group_id: int | None) -> None:
    """Refuse a save whose deputies would close a loop. The graph is every live group's phone → deputy_phone
    with this group's new members in place of its old ones: a loop through another group counts, since the
    escalation falls back to a phone's deputy in any group (deputy_of). Any new loop passes through one of this
    group's members, so following the deputies from them finds it."""
    deputies: dict[str, list[str]] = {}
    for m in members:
        if m["deputy_phone"]:
            deputies.setdefault(m["phone"], []).append(m["deputy_phone"])
    for row in session.execute(_LIVE_DEPUTIES):
        if row.group_id != group_id:
            deputies.setdefault(row.phone, []).append(row.deputy_phone)
    done: set[str] = set()  # phones from which no loop can be reached
    for start in (m["phone"] for m in members):
        loop = _loop_from(start, deputies, done)
        if loop:
            raise InvalidGroup(f"deputy loop: {' → '.join(loop)} (a deputy's chain must end with someone new)")


def _loop_from(start: str, deputies: dict[str, list[str]], done: set[str]) -> list[str] | None:
    """A depth-first walk along the deputies from `start`: the loop as phones (its first phone again at the
    end) when the walk comes back to a phone on its own path, else None; every phone left behind goes in
    `done`. Iterative: a chain may be as long as the groups are big."""
    path: list[str] = []
    on_path: set[str] = set()
    stack: list[tuple[str, Iterator[str]]] = []

    def enter(phone: str) -> None:
        path.append(phone)
        on_path.add(phone)
        stack.append((phone, iter(deputies.get(phone, ()))))

    if start in done:
        return None
    enter(start)
    while stack:
        phone, nexts = stack[-1]
        deputy = next(nexts, None)
        if deputy is None:
            stack.pop()
            path.pop()
            on_path.discard(phone)
            done.add(phone)
        elif deputy in on_path:
            return path[path.index(deputy) :] + [deputy]
        elif deputy not in done:
            enter(deputy)
    return None


# DISTINCT ON keeps each phone's first row in this order: the group's own, then the lowest group id (then the
# lowest member row, for a phone listed twice). The member table is small; no index is needed beyond group_id.
_DEPUTIES = text(
    """
SELECT DISTINCT ON (m.phone) m.phone, m.deputy_phone
FROM contact_group_member m JOIN contact_group g ON g.id = m.group_id
WHERE g.deleted_at IS NULL AND m.deputy_phone IS NOT NULL
  AND (CAST(:phones AS text[]) IS NULL OR m.phone = ANY(CAST(:phones AS text[])))
ORDER BY m.phone, m.group_id <> :group_id, m.group_id, m.id
"""
)


def deputy_map(session: Session, group_id: int | None = None, phones: Iterable[str] | None = None) -> dict[str, str]:
    """phone → deputy phone as a call-out to group `group_id` escalates: the deputy named by the phone's member
    row in that group when it names one, else by its row in any other live group, the lowest group id first (a
    deputy is a person's, and a group that names none has not said "nobody"). Phones with no deputy anywhere are
    left out; `phones` limits the map to those (a deputy who is no member of the group is looked up likewise).
    Deleted groups do not count. Deputies never loop (_check_deputies), but an escalation still stops at its
    depth."""
    params = {"group_id": group_id or 0, "phones": None if phones is None else list(phones)}
    return {row.phone: row.deputy_phone for row in session.execute(_DEPUTIES, params)}


def deputy_of(session: Session, phone: str, group_id: int | None = None) -> str | None:
    """The deputy a call-out to group `group_id` escalates `phone`'s silence to (E.164), or None: deputy_map's
    rule for one phone."""
    return deputy_map(session, group_id, [phone]).get(phone)


# CSV --------------------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("name", "phone", "function", "order", "deputy_phone")
CSV_MAX_BYTES = 512 * 1024  # 500 members are ~40 kB; a bigger file is the wrong file
# Headers as people write them in a spreadsheet, Polish too: the key is the header lower-cased, trimmed.
_CSV_HEADERS = {
    **{c: c for c in CSV_COLUMNS},
    "deputy": "deputy_phone",
    "deputy phone": "deputy_phone",
    "imię i nazwisko": "name",
    "imie i nazwisko": "name",
    "nazwa": "name",
    "telefon": "phone",
    "funkcja": "function",
    "kolejność": "order",
    "kolejnosc": "order",
    "zastępca": "deputy_phone",
    "zastepca": "deputy_phone",
    "telefon zastępcy": "deputy_phone",
    "telefon zastepcy": "deputy_phone",
}
_E164 = re.compile(r"\+\d{6,15}")


def members_csv(group: ContactGroup) -> str:
    """The members as CSV (UTF-8 with a BOM, so Excel reads the Polish letters), the columns CSV_COLUMNS; what
    import_members_csv reads back unchanged."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for m in group.members:
        writer.writerow(
            [
                spreadsheet_text(m.name),  # never run as a formula by the spreadsheet that opens it
                m.phone,  # E.164 as stored: "+48…" is a number to a spreadsheet, not a formula
                spreadsheet_text(m.function),
                m.position,
                m.deputy_phone or "",
            ]
        )
    return "\ufeff" + out.getvalue()


def record_export(session: Session, group: ContactGroup, actor: User | None) -> None:
    """Members' names and phones left the system: personal data, so the export is audited. The caller commits."""
    record(
        session,
        "group.export",
        actor,
        "contact_group",
        group.id,
        {"format": "csv", "rows": len(group.members), "personal_data": True},
    )


def _decoded(raw: bytes) -> str:
    if len(raw) > CSV_MAX_BYTES:
        raise InvalidGroup(f"the file is larger than {CSV_MAX_BYTES // 1024} kB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's "CSV" in a Polish Windows is Windows-1250, not UTF-8.
        return raw.decode("cp1250", errors="replace")


def _members_from_csv(raw: bytes) -> tuple[list[dict[str, Any]], list[int]]:
    """The members of a CSV file in the shape `_members` takes, and the file line each came from."""
    text = _decoded(raw)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(rows, None)
    if not header or not any(cell.strip() for cell in header):
        raise InvalidGroup(f"line 1: the first line names the columns: {', '.join(CSV_COLUMNS)}")
    columns = []
    for cell in header:
        column = _CSV_HEADERS.get(cell.strip().lower())
        if column is None and cell.strip():
            raise InvalidGroup(f"line 1: unknown column {cell.strip()!r}; the columns are {', '.join(CSV_COLUMNS)}")
        columns.append(column)
    if "phone" not in columns:
        raise InvalidGroup(f"line 1: no phone column; the columns are {', '.join(CSV_COLUMNS)}")
    members: list[dict[str, Any]] = []
    lines: list[int] = []
    for row in rows:
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns) and any(cell.strip() for cell in row[len(columns) :]):
            raise InvalidGroup(f"line {line}: more values than columns ({len(columns)})")
        member: dict[str, Any] = {}
        for column, cell in zip(columns, row, strict=False):
            if column and cell.strip():
                member[column] = cell.strip()
        if "order" in member:
            if not member["order"].isdigit():
                raise InvalidGroup(f"line {line}: order {member['order']!r} is not a whole number from 0")
            member["order"] = int(member["order"])
        else:
            member["order"] = len(members)
        # A spreadsheet's apostrophe (spreadsheet_text) is not part of the text.
        for column in ("name", "function"):
            if isinstance(member.get(column), str) and member[column].startswith("'"):
                member[column] = member[column][1:]
        members.append(member)
        lines.append(line)
    if not members:
        raise InvalidGroup("the file has no members: a group needs at least one")
    return members, lines


def import_members_csv(session: Session, group: ContactGroup, actor: User | None, raw: bytes) -> ContactGroup:
    """Replace the group's members with a CSV file's (the columns of CSV_COLUMNS, Polish headers too; `;` or
    `,` between them): one update_group (so audited), or InvalidGroup naming the line and nothing changed."""
    members, lines = _members_from_csv(raw)
    data = {"name": group.name, "kind": group.kind, "needed": group.needed, "members": members}
    try:
        return update_group(session, group, actor, data)
    except InvalidGroup as e:
        # The rules name members by index (members[3].phone); the file's reader counts lines.
        def _line(m: re.Match[str]) -> str:
            return f"line {lines[int(m.group(1))]}" + (f", {m.group(2)}" if m.group(2) else "")

        message = re.sub(r"members\[(\d+)\](?:\.(\w+))?", _line, str(e))
        raise InvalidGroup(message) from None
