"""Zones through the REST API: GeoJSON Features in and out, editing, codes, archiving, live counts."""

from __future__ import annotations

from shapely.geometry import shape

from tests.factories import create_subscriber
from tests.zones.shapes import DONUT, EAST, INSIDE_DONUT, INSIDE_EAST, feature, square


def loc(lat_lon: tuple[float, float]) -> dict:
    return {"lat": lat_lon[0], "lon": lat_lon[1]}


def test_a_created_zone_comes_back_as_a_feature_with_its_code_colour_and_holes(api):
    status, created = api.post("/api/v1/zones", feature("Łazarz Północ", DONUT, description="Przy targach"))
    assert status == 201, created
    props = created["properties"]
    assert props["code"] == "LAZARZPOLNOC"
    assert props["colour"] == "#d7263d" and props["description"] == "Przy targach"
    assert created["repairs"] == []

    status, fetched = api.get(f"/api/v1/zones/{created['id']}")
    assert status == 200
    assert fetched["properties"]["name"] == "Łazarz Północ"
    assert (
        shape(fetched["geometry"]).equals_exact(shape(DONUT).buffer(0), 1e-9)
        or shape(fetched["geometry"]).symmetric_difference(shape(DONUT)).area < 1e-12
    )
    assert len(fetched["geometry"]["coordinates"][0]) == 2  # outer ring and the hole


def test_a_given_code_is_upper_cased_and_must_be_free(api):
    status, zone = api.post("/api/v1/zones", feature("Wilda", DONUT, code="wilda1"))
    assert status == 201 and zone["properties"]["code"] == "WILDA1"
    status, body = api.post("/api/v1/zones", feature("Dębiec", EAST, code="WILDA1"))
    assert status == 409 and "WILDA1" in body["error"]["message"]


def test_derived_codes_stay_unique(api):
    first = api.post("/api/v1/zones", feature("Stare Miasto", DONUT))[1]["properties"]["code"]
    second = api.post("/api/v1/zones", feature("Stare Miasto 2", EAST))[1]["properties"]["code"]
    assert first == "STAREMIASTO" and second == "STAREMIASTO2"


def test_editing_changes_name_code_colour_description_and_geometry(api):
    zone_id = api.post("/api/v1/zones", feature("Wilda", DONUT))[1]["id"]
    status, edited = api.call(
        "PUT",
        f"/api/v1/zones/{zone_id}",
        feature("Wilda i Dębiec", EAST, code="WILDA", colour="#1F5AA6", description="Nowe granice"),
    )
    assert status == 200, edited
    props = edited["properties"]
    assert (props["name"], props["code"], props["colour"], props["description"]) == (
        "Wilda i Dębiec",
        "WILDA",
        "#1f5aa6",
        "Nowe granice",
    )
    assert props["updated_at"] is not None
    assert shape(api.get(f"/api/v1/zones/{zone_id}")[1]["geometry"]).equals(shape(EAST))


def test_editing_only_the_properties_keeps_the_geometry(api):
    zone_id = api.post("/api/v1/zones", feature("Wilda", DONUT))[1]["id"]
    status, edited = api.call(
        "PUT", f"/api/v1/zones/{zone_id}", {"type": "Feature", "properties": {"name": "Wilda 2"}, "geometry": None}
    )
    assert status == 200, edited
    assert edited["properties"]["code"] == "WILDA"  # residents keep texting the code they know
    assert shape(edited["geometry"]).equals(shape(DONUT))


def test_overlapping_zones_are_allowed(api):
    assert api.post("/api/v1/zones", feature("Duża", square(16.90, 52.38, 0.05)))[0] == 201
    assert api.post("/api/v1/zones", feature("Mała w środku", square(16.91, 52.39, 0.01)))[0] == 201
    assert len(api.get("/api/v1/zones")[1]["features"]) == 2


def test_subscriber_counts_follow_the_locations(api):
    zone_id = api.post("/api/v1/zones", feature("Wilda", DONUT))[1]["id"]
    api.post("/api/v1/zones", feature("Rataje", EAST))

    def counts():
        return {
            f["properties"]["name"]: f["properties"]["subscribers"] for f in api.get("/api/v1/zones")[1]["features"]
        }

    assert counts() == {"Wilda": 0, "Rataje": 0}
    create_subscriber(api, "+48601000001", loc(INSIDE_DONUT))
    create_subscriber(api, "+48601000002", loc(INSIDE_DONUT), loc(INSIDE_EAST))
    assert counts() == {"Wilda": 2, "Rataje": 1}
    assert api.get(f"/api/v1/zones/{zone_id}")[1]["properties"]["subscribers"] == 2
    # Moving the border moves the count: nothing is stored per zone.
    api.call("PUT", f"/api/v1/zones/{zone_id}", {"type": "Feature", "properties": {}, "geometry": square(16.80, 52.30)})
    assert counts() == {"Wilda": 0, "Rataje": 1}


def test_deleting_archives_the_zone_and_past_campaigns_keep_it(api, db):
    zone_id = api.post("/api/v1/zones", feature("Wilda", DONUT))[1]["id"]
    create_subscriber(api, "+48601000001", loc(INSIDE_DONUT))
    status, campaign = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Test", "zone_ids": [zone_id]}
    )
    assert status == 201, campaign

    status, archived = api.call("DELETE", f"/api/v1/zones/{zone_id}")
    assert status == 200 and archived["properties"]["archived_at"]
    assert api.get("/api/v1/zones")[1]["features"] == []
    assert api.get(f"/api/v1/zones/lookup?lat={INSIDE_DONUT[0]}&lon={INSIDE_DONUT[1]}")[1]["zones"] == []
    assert [f["id"] for f in api.get("/api/v1/zones?include_archived=true")[1]["features"]] == [zone_id]
    assert api.get(f"/api/v1/zones/{zone_id}")[1]["properties"]["archived_at"]  # history can still show it

    # The campaign drafted before still reaches the people of the archived zone (its recipients snapshot,
    # taken here without enqueueing: no worker runs in this test)…
    from campaigns.service import get_campaign, start_sending

    snapshot = start_sending(db, get_campaign(db, campaign["id"]), None, require_approval=False)
    assert [z.name for z in snapshot.zones] == ["Wilda"]
    assert snapshot.recipients == 1
    db.rollback()
    # …but a new campaign cannot target it, nor can it be edited.
    status, body = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "x", "zone_ids": [zone_id]}
    )
    assert status == 422 and "archived" in body["error"]["message"]
    assert api.call("PUT", f"/api/v1/zones/{zone_id}", feature("Wilda", DONUT))[0] == 409


def test_an_archived_zones_name_may_be_used_again_but_not_its_code(api):
    zone_id = api.post("/api/v1/zones", feature("Wilda", DONUT))[1]["id"]
    api.call("DELETE", f"/api/v1/zones/{zone_id}")
    status, again = api.post("/api/v1/zones", feature("Wilda", DONUT))
    assert status == 201
    assert again["properties"]["code"] == "WILDA2"
    status, body = api.post("/api/v1/zones", feature("Inna", EAST, code="WILDA"))
    assert status == 409 and "archived" in body["error"]["message"]


def test_unknown_zones_are_404(api):
    for method in ("GET", "PUT", "DELETE"):
        status, body = api.call(method, "/api/v1/zones/999", feature("x", DONUT) if method == "PUT" else None)
        assert status == 404 and body["error"]["code"] == "zone_not_found"


def test_finance_may_read_but_not_change_or_delete(api, make_user):
    zone_id = api.post("/api/v1/zones", feature("Wilda", DONUT))[1]["id"]
    finance = api.with_token(make_user("finance")[1])
    assert finance.get(f"/api/v1/zones/{zone_id}")[0] == 200
    assert finance.get("/api/v1/zones/lookup?lat=52.385&lon=16.905")[0] == 200
    assert finance.call("PUT", f"/api/v1/zones/{zone_id}", feature("X", DONUT))[0] == 403
    assert finance.call("DELETE", f"/api/v1/zones/{zone_id}")[0] == 403
    assert api.get(f"/api/v1/zones/{zone_id}")[1]["properties"]["archived_at"] is None


def test_the_openapi_document_describes_the_zone_routes(api):
    paths = api.get("/api/v1/openapi.json")[1]["paths"]
    assert {"get", "put", "delete"} <= set(paths["/api/v1/zones/{id}"])
    for path in ("/api/v1/zones/lookup", "/api/v1/zones/preview", "/api/v1/zones/import", "/api/v1/zones.geojson"):
        assert path in paths
