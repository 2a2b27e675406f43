"""The groups API of issue 20 (app.api.groups): the contract's shape, who may do what, the 422s that name the
problem and save nothing, the kind filter, the audit; /api/v1/test-groups stays the kind-test view."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers import ApiClient

TEAM = {
    "name": "Zespół Zarządzania Kryzysowego",
    "kind": "team",
    "needed": 2,
    "members": [
        {
            "name": "Anna Nowak",
            "phone": "+48601900001",
            "function": "Prezydent",
            "order": 0,
            "deputy_phone": "+48601900002",
        },
        {"name": "Jan Kowalski", "phone": "601 900 002", "function": "Zastępca", "order": 1, "deputy_phone": None},
        {"name": "Ola Wiśniewska", "phone": "+48601900003", "function": "Dyrektor WZK", "order": 2},
    ],
}


def test_the_contract_create_read_replace_delete(api, db):
    status, group = api.post("/api/v1/groups", TEAM)
    assert status == 201, group
    assert {"id", "name", "kind", "needed", "members"} <= set(group)
    assert (group["name"], group["kind"], group["needed"]) == ("Zespół Zarządzania Kryzysowego", "team", 2)
    assert group["members"][1] == {
        "name": "Jan Kowalski",
        "phone": "+48601900002",
        "function": "Zastępca",
        "order": 1,
        "deputy_phone": None,
    }
    assert group["members"][0]["deputy_phone"] == "+48601900002"
    assert api.get(f"/api/v1/groups/{group['id']}") == (200, group)

    changed_body = {**TEAM, "kind": "services", "needed": None, "members": TEAM["members"][:1]}
    status, changed = api.call("PUT", f"/api/v1/groups/{group['id']}", changed_body)
    assert status == 200, changed
    assert (changed["kind"], changed["needed"], len(changed["members"])) == ("services", None, 1)

    assert api.call("DELETE", f"/api/v1/groups/{group['id']}")[0] == 204
    assert api.get(f"/api/v1/groups/{group['id']}")[0] == 404
    assert api.get("/api/v1/groups")[1] == []
    rows = db.execute(
        text("SELECT action, before, after FROM audit_log WHERE object_type = 'contact_group' ORDER BY id")
    ).all()
    assert [r.action for r in rows] == ["group.create", "group.update", "group.delete"]
    assert rows[1].before["members"][0]["deputy_phone"] == "+48601900002"  # a deputy's change is on record
    assert rows[1].after["kind"] == "services"


def test_the_list_filters_by_kind_and_test_groups_are_one_kind_of_them(api):
    ids = {}
    for kind in ("team", "services", "media", "test"):
        status, group = api.post("/api/v1/groups", {**TEAM, "name": f"Grupa {kind}", "kind": kind})
        assert status == 201, group
        ids[kind] = group["id"]
    status, every = api.get("/api/v1/groups")
    assert status == 200 and sorted(g["kind"] for g in every) == ["media", "services", "team", "test"]
    for kind, group_id in ids.items():
        status, listed = api.get(f"/api/v1/groups?kind={kind}")
        assert status == 200 and [g["id"] for g in listed] == [group_id]
    # The test groups' own API is the kind-test view of the same groups.
    assert [g["id"] for g in api.get("/api/v1/test-groups")[1]] == [ids["test"]]
    assert api.get(f"/api/v1/test-groups/{ids['team']}")[0] == 404
    status, error = api.get("/api/v1/groups?kind=radio")
    assert status == 422 and "kind must be one of team, services, media, test" in error["error"]["message"]


def test_bad_groups_are_refused_naming_the_problem_and_nothing_is_saved(api, db):
    one = {"name": "A", "phone": "+48601900001"}
    cases = {
        "members[1].phone": {**TEAM, "members": [one, {"name": "B", "phone": "+48 61 000 00 00"}]},
        "at least one member": {**TEAM, "members": [], "needed": None},
        "deputy loop: +48601900001 → +48601900002 → +48601900001": {
            **TEAM,
            "needed": None,
            "members": [
                {**one, "deputy_phone": "+48601900002"},
                {"name": "B", "phone": "+48601900002", "deputy_phone": "+48601900001"},
            ],
        },
        "cannot be their own deputy": {**TEAM, "needed": None, "members": [{**one, "deputy_phone": "601900001"}]},
        "needed (2) is more than the group's 1 member(s)": {**TEAM, "members": [one]},
        "kind is required": {**TEAM, "kind": None},
    }
    for problem, body in cases.items():
        status, error = api.post("/api/v1/groups", body)
        assert status == 422, (problem, error)
        assert error["error"]["code"] == "invalid_group"
        assert problem in error["error"]["message"], error
    assert db.execute(text("SELECT count(*) FROM contact_group")).scalar_one() == 0

    status, group = api.post("/api/v1/groups", {**TEAM, "needed": None})
    assert status == 201
    status, error = api.call(
        "PUT", f"/api/v1/groups/{group['id']}", cases["needed (2) is more than the group's 1 member(s)"]
    )
    assert status == 422
    assert len(api.get(f"/api/v1/groups/{group['id']}")[1]["members"]) == 3  # unchanged


def test_a_deputy_loop_across_groups_is_refused(api):
    status, team = api.post("/api/v1/groups", {**TEAM, "needed": None})
    assert status == 201, team
    # In the team Anna's deputy is Jan; Jan's deputy in the media group would be Anna.
    media = {
        "name": "Rzecznicy",
        "kind": "media",
        "members": [{"name": "Jan", "phone": "+48601900002", "deputy_phone": "+48601900001"}],
    }
    status, error = api.post("/api/v1/groups", media)
    assert status == 422, error
    assert "deputy loop: +48601900002 → +48601900001 → +48601900002" in error["error"]["message"]


def test_admins_manage_groups_operators_and_approvers_read_them(api, live_server, make_user):
    status, group = api.post("/api/v1/groups", {**TEAM, "needed": None})
    assert status == 201
    path = f"/api/v1/groups/{group['id']}"
    for role in ("operator", "approver"):
        reader = ApiClient(live_server, make_user(role)[1])
        assert reader.get("/api/v1/groups")[0] == 200
        assert reader.get(path) == (200, group)
        assert reader.post("/api/v1/groups", TEAM)[0] == 403
        assert reader.call("PUT", path, TEAM)[0] == 403
        assert reader.call("DELETE", path)[0] == 403
    finance = ApiClient(live_server, make_user("finance")[1])
    assert finance.get("/api/v1/groups")[0] == 403
    assert ApiClient(live_server, None).get("/api/v1/groups")[0] == 401


def test_the_openapi_document_describes_the_groups(api):
    status, document = api.get("/api/v1/openapi.json")
    assert status == 200
    paths = document["paths"]
    assert set(paths["/api/v1/groups"]) == {"get", "post"}
    assert set(paths["/api/v1/groups/{id}"]) == {"get", "put", "delete"}
    kinds = document["components"]["schemas"]["GroupInput"]["properties"]["kind"]["enum"]
    assert kinds == ["team", "services", "media", "test"]
