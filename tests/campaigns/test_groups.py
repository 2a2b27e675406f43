"""Contact groups (campaigns.groups): the test groups of issue 16 through their API, and the rules of issue 20 —
deputies that never loop, `needed` within the members, deputy_of for the escalation, members as CSV."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from campaigns import groups
from campaigns.exceptions import InvalidGroup
from tests.helpers import ApiClient


def test_admins_create_edit_and_delete_test_groups_with_names(api, db):
    status, group = api.post(
        "/api/v1/test-groups",
        {"name": "Sztab", "phones": ["+48601900003"], "members": [{"name": "Anna Nowak", "phone": "601 900 001"}]},
    )
    assert status == 201, group
    assert group["phones"] == ["+48601900001", "+48601900003"]
    assert group["members"][0] == {
        "name": "Anna Nowak",
        "phone": "+48601900001",
        "function": None,
        "order": 0,
        "deputy_phone": None,
    }
    assert group["kind"] == "test"

    status, changed = api.call(
        "PUT",
        f"/api/v1/test-groups/{group['id']}",
        {"name": "Sztab 2", "members": [{"name": "Jan", "phone": "+48601900002"}]},
    )
    assert status == 200, changed
    assert changed["name"] == "Sztab 2" and changed["phones"] == ["+48601900002"]
    status, listed = api.get("/api/v1/test-groups")
    assert [g["name"] for g in listed] == ["Sztab 2"]

    status, _ = api.call("DELETE", f"/api/v1/test-groups/{group['id']}")
    assert status == 204
    assert api.get("/api/v1/test-groups")[1] == []
    assert api.get(f"/api/v1/test-groups/{group['id']}")[0] == 404
    actions = (
        db.execute(text("SELECT action FROM audit_log WHERE object_type = 'contact_group' ORDER BY id")).scalars().all()
    )
    assert actions == ["group.create", "group.update", "group.delete"]


def test_an_invalid_phone_is_refused_naming_it(api):
    status, error = api.post("/api/v1/test-groups", {"name": "Sztab", "phones": ["+48601900001", "12"]})
    assert status == 422, error
    assert "phones[1]" in error["error"]["message"] and "'12'" in error["error"]["message"]
    status, error = api.post("/api/v1/test-groups", {"name": "Sztab", "members": [{"name": "X", "phone": "+4822 000"}]})
    assert status == 422 and "members[0].phone" in error["error"]["message"]
    status, error = api.post("/api/v1/test-groups", {"name": "", "phones": ["+48601900001"]})
    assert status == 422 and "name" in error["error"]["message"]
    status, error = api.post("/api/v1/test-groups", {"name": "Pusta", "phones": []})
    assert status == 422 and "at least one member" in error["error"]["message"]


def test_only_admins_manage_test_groups_staff_may_read_them(api, live_server, make_user):
    operator = ApiClient(live_server, make_user("operator")[1])
    status, _ = operator.post("/api/v1/test-groups", {"name": "Sztab", "phones": ["+48601900001"]})
    assert status == 403
    status, group = api.post("/api/v1/test-groups", {"name": "Sztab", "phones": ["+48601900001"]})
    assert status == 201
    assert operator.get("/api/v1/test-groups")[0] == 200
    assert operator.call("PUT", f"/api/v1/test-groups/{group['id']}", {"name": "x", "phones": []})[0] == 403
    assert operator.call("DELETE", f"/api/v1/test-groups/{group['id']}")[0] == 403


# The rules themselves (campaigns.groups), on the database: deputies, needed, CSV.

A, B, C, D = "+48601900001", "+48601900002", "+48601900003", "+48601900004"


def _group(name: str, *members: tuple[str, str | None], kind: str = "team", needed: int | None = None) -> dict:
    return {
        "name": name,
        "kind": kind,
        "needed": needed,
        "members": [
            {"name": f"Osoba {phone[-1]}", "phone": phone, "deputy_phone": deputy} for phone, deputy in members
        ],
    }


def _refused(db, data: dict, group=None) -> str:
    with pytest.raises(InvalidGroup) as refused:
        if group is None:
            groups.create_group(db, None, data)
        else:
            groups.update_group(db, group, None, data)
    db.rollback()
    return str(refused.value)


def _live_groups(db) -> int:
    return db.execute(text("SELECT count(*) FROM contact_group WHERE deleted_at IS NULL")).scalar_one()


def test_a_deputy_loop_within_a_group_is_refused_naming_it(db):
    message = _refused(db, _group("Sztab", (A, B), (B, A)))
    assert message == f"deputy loop: {A} → {B} → {A} (a deputy's chain must end with someone new)"
    message = _refused(db, _group("Sztab", (A, B), (B, C), (C, A)))
    assert f"{A} → {B} → {C} → {A}" in message
    assert _live_groups(db) == 0


def test_a_deputy_loop_through_another_group_is_refused(db):
    groups.create_group(db, None, _group("Sztab", (A, B), (B, None)))
    db.commit()
    # B's deputy in the services group closes A → B → A: an escalation from the team would go round.
    message = _refused(db, _group("Służby", (B, A), kind="services"))
    assert f"deputy loop: {B} → {A} → {B}" in message
    # A deputy outside every group (C) ends the chain: fine.
    services = groups.create_group(db, None, _group("Służby", (B, C), kind="services"))
    db.commit()
    # Saving a group replaces its own old members: the loop is judged on what it will be.
    assert "deputy loop" in _refused(db, _group("Służby", (B, A), kind="services"), services)
    groups.update_group(db, services, None, _group("Służby", (B, D), kind="services"))
    db.commit()
    assert groups.deputy_of(db, B, services.id) == D


def test_a_deleted_group_closes_no_loop(db):
    team = groups.create_group(db, None, _group("Sztab", (A, B)))
    db.commit()
    groups.delete_group(db, team, None)
    db.commit()
    groups.create_group(db, None, _group("Służby", (B, A), kind="services"))
    db.commit()
    assert _live_groups(db) == 1


def test_a_member_cannot_be_their_own_deputy(db):
    message = _refused(db, _group("Sztab", (A, None), (B, "601 900 002")))
    assert message == f"members[1].deputy_phone: {B} cannot be their own deputy"


def test_a_deputy_needs_a_valid_mobile_number(db):
    message = _refused(db, _group("Sztab", (A, "+48 61 000 00 00")))
    assert message.startswith("members[0].deputy_phone:") and "not a valid mobile number" in message


def test_needed_cannot_be_more_than_the_members(db):
    message = _refused(db, _group("Sztab", (A, None), (B, None), needed=3))
    assert message.startswith("needed (3) is more than the group's 2 member(s)")
    group = groups.create_group(db, None, _group("Sztab", (A, None), (B, None), needed=2))
    db.commit()
    assert group.needed == 2
    assert "needed (2)" in _refused(db, _group("Sztab", (A, None), needed=2), group)


def test_a_group_needs_a_kind(db):
    data = _group("Sztab", (A, None))
    del data["kind"]
    assert _refused(db, data) == "kind is required: one of team, services, media, test"
    assert "kind is required" in _refused(db, {**data, "kind": "radio"})


def test_deputy_of_prefers_the_groups_own_row_then_the_lowest_group(db):
    team = groups.create_group(db, None, _group("Sztab", (A, B), (C, None)))
    services = groups.create_group(db, None, _group("Służby", (A, C), (B, D), kind="services"))
    db.commit()
    assert groups.deputy_of(db, A, team.id) == B
    assert groups.deputy_of(db, A, services.id) == C
    # C names no deputy in the team, but does nowhere else either; B is no team member: its services deputy.
    assert groups.deputy_of(db, C, team.id) is None
    assert groups.deputy_of(db, B, team.id) == D
    # No group given: the lowest group id's.
    assert groups.deputy_of(db, A) == B
    assert groups.deputy_of(db, "+48601999999", team.id) is None
    assert groups.deputy_map(db, services.id) == {A: C, B: D}
    assert groups.deputy_map(db, team.id, [A, C]) == {A: B}
    groups.delete_group(db, team, None)
    db.commit()
    assert groups.deputy_of(db, A) == C  # a deleted group's deputies no longer count


def test_members_csv_round_trip_keeps_every_field(db):
    group = groups.create_group(
        db,
        None,
        {
            "name": "Media",
            "kind": "media",
            "members": [
                {"name": "Żaneta Łęcka", "phone": A, "function": "=Redaktor, Radio Poznań", "order": 2},
                {"name": "Jan", "phone": B, "function": None, "order": 5, "deputy_phone": A},
            ],
        },
    )
    db.commit()
    exported = groups.members_csv(group)
    assert exported.startswith("\ufeffname,phone,function,order,deputy_phone\r\n")
    assert "'=Redaktor, Radio Poznań" in exported  # never a formula in a spreadsheet
    before = groups.group_json(group)["members"]
    groups.import_members_csv(db, group, None, exported.encode("utf-8"))
    db.commit()
    assert groups.group_json(group)["members"] == before


def test_members_csv_import_reads_semicolons_polish_headers_and_windows_1250(db):
    group = groups.create_group(db, None, _group("Sztab", (A, None)))
    db.commit()
    raw = (
        "Imię i nazwisko;Telefon;Funkcja;Zastępca\nŁucja Żak;601 900 002;Prezydent;601 900 003\n\nOla;+48601900003;;\n"
    )
    groups.import_members_csv(db, group, None, raw.encode("cp1250"))
    db.commit()
    assert [
        (m["name"], m["phone"], m["function"], m["order"], m["deputy_phone"])
        for m in groups.group_json(group)["members"]
    ] == [
        ("Łucja Żak", B, "Prezydent", 0, C),
        ("Ola", C, None, 1, None),
    ]


def test_a_bad_csv_line_is_named_and_changes_nothing(db):
    group = groups.create_group(db, None, _group("Sztab", (A, None)))
    db.commit()
    bad = "name,phone,function\nAnna,+48601900002,\nJan,12,\nOla,+48601900003,Szef\n"
    with pytest.raises(InvalidGroup, match=r"^line 3, phone: '12' is not a valid mobile number"):
        groups.import_members_csv(db, group, None, bad.encode())
    db.rollback()
    with pytest.raises(InvalidGroup, match=r"^line 1: unknown column 'telefon komórkowy'"):
        groups.import_members_csv(db, group, None, "name,telefon komórkowy\nA,+48601900002\n".encode())
    with pytest.raises(InvalidGroup, match=r"^line 3: order 'x' is not a whole number"):
        groups.import_members_csv(db, group, None, b"phone;order\n+48601900002;1\n+48601900003;x\n")
    with pytest.raises(InvalidGroup, match=r"^deputy loop: "):
        groups.import_members_csv(
            db, group, None, b"phone,deputy_phone\n+48601900002,+48601900003\n+48601900003,+48601900002\n"
        )
    db.rollback()
    db.expire_all()
    assert [m.phone for m in groups.get_group(db, group.id).members] == [A]
    actions = db.execute(text("SELECT action FROM audit_log WHERE object_type = 'contact_group'")).scalars().all()
    assert actions == ["group.create"]
