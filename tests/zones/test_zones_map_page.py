"""The zones map page in headless Chromium, offline (no map tiles): an operator draws a zone by clicking,
names and saves it, edits a vertex, deletes it; bad shapes are explained next to the drawing; files import."""

from __future__ import annotations

import math

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Corners of the drawn zone, in pixels of the map's container.
CORNERS = [(300, 200), (650, 220), (620, 480), (320, 460)]
BOWTIE = [(300, 200), (600, 450), (600, 200), (300, 450)]
PIXEL_TOLERANCE = 1.5


def open_zones_page(page, login, make_user, role="operator"):
    email, _token = make_user(role)
    login(page, email)
    page.get_by_role("navigation", name="Główna nawigacja").get_by_role("link", name="Strefy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Strefy")
    expect(page.locator("#zones-editor-map")).to_have_attribute("data-ready", "true")


def map_box(page):
    """Where the map's container points start on the page (inside its border)."""
    box = page.locator("#zones-editor-map").bounding_box()
    border = page.evaluate(
        "() => { const el = document.getElementById('zones-editor-map'); return [el.clientLeft, el.clientTop]; }"
    )
    return {"x": box["x"] + border[0], "y": box["y"] + border[1]}


def click_on_map(page, points):
    box = map_box(page)
    for x, y in points:
        page.mouse.click(box["x"] + x, box["y"] + y)


def lat_lng_at(page, x, y) -> tuple[float, float]:
    ll = page.evaluate(
        "([x, y]) => document.getElementById('zones-editor-map').syrenaMap.containerPointToLatLng([x, y])", [x, y]
    )
    return ll["lng"], ll["lat"]


def pixel_of(page, lon, lat) -> tuple[float, float]:
    p = page.evaluate(
        "([lat, lon]) => document.getElementById('zones-editor-map').syrenaMap.latLngToContainerPoint([lat, lon])",
        [lat, lon],
    )
    return p["x"], p["y"]


def draw_polygon(page, points):
    page.locator(".leaflet-pm-icon-polygon").click()
    click_on_map(page, points)
    click_on_map(page, points[:1])  # clicking the first corner again closes the ring


def only_zone(api) -> dict:
    features = api.get("/api/v1/zones")[1]["features"]
    assert len(features) == 1, features
    return features[0]


def test_operator_draws_names_saves_edits_and_deletes_a_zone(page, api, make_user, login):
    open_zones_page(page, login, make_user)
    expect(page.locator("#zones-editor-map .leaflet-tile-pane img")).to_have_count(0)  # offline: no tiles
    expected = [lat_lng_at(page, x, y) for x, y in CORNERS]

    draw_polygon(page, CORNERS)
    expect(page.get_by_role("heading", name="Nowa strefa")).to_be_visible()
    page.get_by_label("Nazwa").fill("Strefa zalewowa Warty")
    page.get_by_label("Opis").fill("Tereny zalewowe przy Warcie")
    page.get_by_role("button", name="Zapisz strefę").click()
    expect(page.locator("#zones-status")).to_have_text("Strefa zapisana.")

    zone = only_zone(api)
    assert zone["properties"]["name"] == "Strefa zalewowa Warty"
    assert zone["properties"]["code"] == "STREFAZALEWO"
    assert zone["properties"]["description"] == "Tereny zalewowe przy Warcie"
    ring = zone["geometry"]["coordinates"][0][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    # The clicked corners, in some order and direction, within a pixel of where they were clicked
    # (about 70 m at this zoom; mouse positions are whole pixels).
    pixels = [pixel_of(page, lon, lat) for lon, lat in ring]
    for corner in CORNERS:
        assert min(math.dist(corner, p) for p in pixels) < PIXEL_TOLERANCE, (corner, pixels)
    for lon, lat in expected:
        assert min(math.dist((lon, lat), v) for v in ring) < 0.002, (lon, lat, ring)
    row = (
        page.get_by_role("table", name="Strefy, ich kody SMS i aktywni subskrybenci")
        .get_by_role("row")
        .filter(has_text="Strefa zalewowa Warty")
    )
    expect(row.get_by_role("cell")).to_have_text(["STREFAZALEWO", "0"])
    expect(page.locator(".zone-editor-label")).to_contain_text("STREFAZALEWO")  # the code on the map

    # Edit: open the zone (the map zooms to it), drag one corner 50 px right and 40 px down, save.
    row.get_by_role("button", name="Strefa zalewowa Warty").click()
    expect(page.get_by_role("heading", name="Strefa zalewowa Warty")).to_be_visible()
    old_x, old_y = pixel_of(page, *expected[0])
    box = map_box(page)
    page.mouse.move(box["x"] + old_x, box["y"] + old_y)
    page.mouse.down()
    page.mouse.move(box["x"] + old_x + 25, box["y"] + old_y + 20, steps=5)
    page.mouse.move(box["x"] + old_x + 50, box["y"] + old_y + 40, steps=5)
    page.mouse.up()
    target = (old_x + 50, old_y + 40)
    page.get_by_role("button", name="Zapisz strefę").click()
    expect(page.locator("#zones-status")).to_have_text("Strefa zapisana.")
    ring = only_zone(api)["geometry"]["coordinates"][0][0]
    pixels = [pixel_of(page, lon, lat) for lon, lat in ring]
    assert min(math.dist(target, p) for p in pixels) < PIXEL_TOLERANCE, (target, pixels)
    assert min(math.dist((old_x, old_y), p) for p in pixels) > 40  # the old corner is gone
    assert len(ring) == 5

    # Delete: asks first, then the zone leaves the map and the list (archived for campaign history).
    zone_id = only_zone(api)["id"]
    page.get_by_role("button", name="Strefa zalewowa Warty").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Usuń strefę").click()
    expect(page.locator("#zones-status")).to_have_text("Strefa usunięta.")
    expect(page.locator("#zones-table")).to_contain_text("Nie ma jeszcze stref.")
    assert api.get("/api/v1/zones")[1]["features"] == []
    assert api.get(f"/api/v1/zones/{zone_id}")[1]["properties"]["archived_at"]


def test_a_bad_shape_is_explained_next_to_the_drawing_and_can_be_repaired(page, api, make_user, login):
    open_zones_page(page, login, make_user)
    draw_polygon(page, BOWTIE)
    page.get_by_label("Nazwa").fill("Kokardka")
    page.get_by_role("button", name="Zapisz strefę").click()
    error = page.locator("#zone-panel").get_by_role("alert")
    expect(error).to_contain_text("Self-intersection at longitude")
    assert api.get("/api/v1/zones")[1]["features"] == []

    page.get_by_label("Napraw nieprawidłowy kształt").check()
    page.get_by_role("button", name="Zapisz strefę").click()
    expect(page.locator("#zones-status")).to_contain_text("Naprawiono:")
    assert only_zone(api)["geometry"]["type"] == "MultiPolygon"


def test_a_circle_is_saved_as_a_polygon_and_the_preview_counts_residents(page, api, make_user, login):
    open_zones_page(page, login, make_user)
    centre = lat_lng_at(page, 450, 350)
    status, _ = api.post(
        "/api/v1/subscribers",
        {
            "phone": "+48601000001",
            "verified": True,
            "locations": [{"lat": centre[1], "lon": centre[0], "label": "dom"}],
        },
    )
    assert status == 201
    page.locator(".leaflet-pm-icon-circle").click()
    click_on_map(page, [(450, 350), (550, 350)])
    expect(page.locator("#zone-facts")).to_contain_text("W środku aktywnych subskrybentów: 1")
    page.get_by_label("Nazwa").fill("Wokół zakładu chemicznego")
    page.get_by_label("Kod SMS").fill("chemia")
    page.get_by_role("button", name="Zapisz strefę").click()
    expect(page.locator("#zones-status")).to_have_text("Strefa zapisana.")
    zone = only_zone(api)
    assert zone["properties"]["code"] == "CHEMIA"
    assert zone["properties"]["subscribers"] == 1
    assert len(zone["geometry"]["coordinates"][0][0]) == 65


def test_a_file_imported_in_the_page_shows_its_zones(page, api, make_user, login, poznan_osiedla_path):
    open_zones_page(page, login, make_user)
    page.get_by_label("Plik GeoJSON (FeatureCollection)").set_input_files(str(poznan_osiedla_path))
    page.get_by_role("button", name="Importuj").click()
    expect(page.locator("#import-error")).to_contain_text("Stare Winogrady")
    assert api.get("/api/v1/zones")[1]["features"] == []

    page.get_by_label("Napraw nieprawidłowe kształty").check()
    page.get_by_role("button", name="Importuj").click()
    expect(page.locator("#import-status")).to_contain_text("Zaimportowano stref: 42")
    expect(page.locator("#zones-table tbody tr")).to_have_count(42)
    expect(page.locator("#zones-editor-map .leaflet-overlay-pane path")).to_have_count(42)


def test_finance_sees_the_zones_but_no_drawing_tools(page, api, make_user, login):
    api.post(
        "/api/v1/zones",
        {
            "type": "Feature",
            "properties": {"name": "Wilda"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[16.90, 52.38], [16.93, 52.38], [16.93, 52.40], [16.90, 52.40], [16.90, 52.38]]],
            },
        },
    )
    open_zones_page(page, login, make_user, role="finance")
    expect(page.locator("#zones-editor-map .leaflet-overlay-pane path")).to_have_count(1)
    expect(page.locator(".leaflet-pm-toolbar")).to_have_count(0)
    expect(page.get_by_role("heading", name="Importuj strefy")).to_have_count(0)
    page.locator("#zones-editor-map .leaflet-overlay-pane path").click()
    expect(page.get_by_role("heading", name="Wilda")).to_be_visible()
    expect(page.get_by_role("button", name="Zapisz strefę")).to_be_hidden()


def test_move_whole_zone_drags_every_vertex_by_the_same_amount(page, api, make_user, login):
    square = [[16.90, 52.38], [16.94, 52.38], [16.94, 52.41], [16.90, 52.41], [16.90, 52.38]]
    status, body = api.post(
        "/api/v1/zones",
        {"type": "Feature", "properties": {"name": "Rataje"}, "geometry": {"type": "Polygon", "coordinates": [square]}},
    )
    assert status == 201, body
    open_zones_page(page, login, make_user)
    page.get_by_role("table", name="Strefy, ich kody SMS i aktywni subskrybenci").get_by_role(
        "button", name="Rataje"
    ).click()
    expect(page.get_by_role("heading", name="Rataje")).to_be_visible()
    move = page.get_by_role("button", name="Przesuń")
    move.click()
    expect(move).to_have_attribute("aria-pressed", "true")

    # Grab the zone in its middle (not at a corner: that would move one vertex) and drag it 80 px right,
    # 50 px down.
    start = pixel_of(page, 16.92, 52.395)
    end = (start[0] + 80, start[1] + 50)
    expected_shift = [a - b for a, b in zip(lat_lng_at(page, *end), lat_lng_at(page, *start))]
    box = map_box(page)
    page.mouse.move(box["x"] + start[0], box["y"] + start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + start[0] + 40, box["y"] + start[1] + 25, steps=5)
    page.mouse.move(box["x"] + end[0], box["y"] + end[1], steps=5)
    page.mouse.up()
    page.get_by_role("button", name="Zapisz strefę").click()
    expect(page.locator("#zones-status")).to_have_text("Strefa zapisana.")

    zone = only_zone(api)
    ring = zone["geometry"]["coordinates"][0][0]
    assert zone["properties"]["name"] == "Rataje" and len(ring) == 5
    # Every corner moved by the drag, in pixels of the current view and in degrees; the shape is the same.
    for (old_lon, old_lat), (lon, lat) in zip(square, ring):
        old_px, new_px = pixel_of(page, old_lon, old_lat), pixel_of(page, lon, lat)
        assert math.dist((old_px[0] + 80, old_px[1] + 50), new_px) < PIXEL_TOLERANCE, (old_px, new_px)
        assert lon - old_lon == pytest.approx(expected_shift[0], abs=1e-4)
        assert lat - old_lat == pytest.approx(expected_shift[1], abs=1e-4)
    assert expected_shift[0] > 0 > expected_shift[1]  # east and south


def test_a_rectangle_with_a_colour_may_overlap_a_zone_and_hovering_tells_each_zones_facts(page, api, make_user, login):
    open_zones_page(page, login, make_user)
    centre = lat_lng_at(page, 450, 330)
    status, _ = api.post(
        "/api/v1/subscribers",
        {
            "phone": "+48601000002",
            "verified": True,
            "locations": [{"lat": centre[1], "lon": centre[0], "label": "dom"}],
        },
    )
    assert status == 201
    only_old_town = lat_lng_at(page, 630, 300)  # inside Stare Miasto, outside the rectangle
    draw_polygon(page, CORNERS)
    page.get_by_label("Nazwa").fill("Stare Miasto")
    page.get_by_role("button", name="Zapisz strefę").click()
    expect(page.locator("#zones-status")).to_have_text("Strefa zapisana.")

    # A rectangle (two corners dragged out) over the same place, in blue.
    page.locator(".leaflet-pm-icon-rectangle").click()
    click_on_map(page, [(380, 260), (560, 420)])
    page.get_by_label("Nazwa").fill("Ostrów Tumski")
    page.get_by_label("Kolor").fill("#1f5aa6")
    page.get_by_role("button", name="Zapisz strefę").click()
    expect(page.locator("#zones-status")).to_have_text("Strefa zapisana.")

    zones = {f["properties"]["name"]: f for f in api.get("/api/v1/zones")[1]["features"]}
    rect = zones["Ostrów Tumski"]
    assert rect["properties"]["colour"] == "#1f5aa6"
    ring = rect["geometry"]["coordinates"][0][0]
    assert len(ring) == 5  # a rectangle: two longitudes, two latitudes
    assert len({round(lon, 6) for lon, _ in ring}) == 2 and len({round(lat, 6) for _, lat in ring}) == 2
    assert {z["properties"]["subscribers"] for z in zones.values()} == {1}  # the resident is in both
    # Both drawn, the rectangle in its colour; hovering shows a zone's code and subscribers.
    paths = page.locator("#zones-editor-map .leaflet-overlay-pane path")
    expect(paths).to_have_count(2)
    expect(page.locator('#zones-editor-map path[stroke="#1f5aa6"]')).to_have_count(1)
    box, (x, y) = map_box(page), pixel_of(page, *only_old_town)  # where it is now, should the map have moved
    page.mouse.move(box["x"] + x, box["y"] + y)
    # The Old Town's hover card: not the drawing hint, nor the rectangle's card, which may still be open from
    # when the rectangle was drawn under the pointer.
    tooltip = page.locator(".leaflet-tooltip", has=page.locator(".zone-info-count"), has_text="Stare Miasto")
    # One card for the zone: the card of the layer the last reload replaced may linger for a moment.
    expect(tooltip).to_have_count(1)
    expect(tooltip).to_contain_text("Stare Miasto")
    expect(tooltip).to_contain_text("STAREMIASTO")
    expect(tooltip.locator(".zone-info-count")).to_have_text("1")


def test_the_drawing_tools_speak_ukrainian_in_a_ukrainian_ui(page, live_server, make_user, login):
    """Geoman names Ukrainian "ua": our "uk" alone would leave its buttons in English."""
    page.context.add_cookies([{"name": "lang", "value": "uk", "url": live_server}])
    login(page, make_user("operator")[0])
    page.goto("/zones/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Зони")
    expect(page.locator("#zones-editor-map")).to_have_attribute("data-ready", "true")
    polygon_tool = page.locator(".button-container[title]", has=page.locator(".leaflet-pm-icon-polygon"))
    expect(polygon_tool).to_have_attribute("title", "Малювати полігон")
