"""Test groups (issue 16; the contact groups of issue 20): admins manage them, phones checked, audited."""

from __future__ import annotations

from sqlalchemy import text

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
