"""Contact groups: named lists of people who are not residents — staff phones with names.

Issue 16 uses groups of kind `test`: an exercise or test goes to one (campaigns.exercises), and "send test" sends
a draft's texts to one first. The call-outs of issue 20 add the kinds team, services and media on the same tables
(ContactGroup, ContactGroupMember in campaigns.models). Admins manage them; every change is audited. A deleted
group is only marked so: the campaigns sent to it keep naming it, and nothing can be sent to it any more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.exceptions import GroupNotFound, InvalidGroup
from campaigns.models import ContactGroup, ContactGroupMember, GroupKind
from subscribers.exceptions import SubscriberError
from subscribers.phones import normalise_mobile
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.db import utcnow
from syrena_core.text import check_characters

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
        deputy = member.get("deputy_phone")
        out.setdefault(
            phone,
            {
                "phone": phone,
                "name": _text(member.get("name"), f"members[{n}].name"),
                "function": _text(member.get("function"), f"members[{n}].function"),
                "position": order,
                "deputy_phone": _phone(deputy, f"members[{n}].deputy_phone") if deputy else None,
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


def _check(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidGroup("a group is an object {name, members or phones}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidGroup(f"unknown field(s): {', '.join(map(str, unknown))}")
    kind = data.get("kind") or GroupKind.TEST.value
    if kind not in {k.value for k in GroupKind}:
        raise InvalidGroup(f"kind must be one of {', '.join(k.value for k in GroupKind)}")
    return {
        "name": _text(data.get("name"), "the name", required=True),
        "kind": kind,
        "needed": _needed(data.get("needed")),
        "members": _members(data),
    }


def group_json(group: ContactGroup) -> dict[str, Any]:
    members = [
        {
            "name": m.name,
            "phone": m.phone,
            "function": m.function,
            "order": m.position,
            "deputy_phone": m.deputy_phone,
        }
        for m in group.members
    ]
    return {
        "id": group.id,
        "name": group.name,
        "kind": group.kind,
        "needed": group.needed,
        "phones": [m["phone"] for m in members],
        "members": members,
        "created_at": group.created_at.isoformat(),
    }


def list_groups(session: Session, kind: str | None = GroupKind.TEST.value) -> Sequence[ContactGroup]:
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
    group = ContactGroup(name=fields["name"], kind=fields["kind"], needed=fields["needed"])
    _set_members(group, fields["members"])
    session.add(group)
    session.flush()
    record(session, "group.create", actor, "contact_group", group.id, after=_audited(group))
    return group


def update_group(session: Session, group: ContactGroup, actor: User | None, data: Any) -> ContactGroup:
    """Replace the group's name and members (a PUT: the whole group)."""
    fields = _check(data)
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
        "members": [{"name": m.name, "phone": m.phone} for m in group.members],
    }
