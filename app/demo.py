"""The demo city: a Poznań-like city of 12 zones, a few thousand address points
and 10,000 subscribers, generated offline from a fixed seed (no network, no
data files), so every demo database is the same city.

`generate_demo_city()` is pure (geometry and rows in memory); `load_demo_city()`
writes it in bulk and does nothing when the database already holds data.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate

import phonenumbers
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, mapping
from shapely.ops import voronoi_diagram
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from subscribers.gazetteer import address_key
from subscribers.models import AddressPoint, Subscriber, SubscriberLocation, SubscriberStatus
from zones.models import Zone
from zones.queries import cluster_locations
from zones.service import create_zone

SEED = 20260101
SUBSCRIBERS = 10_000
WORK_SHARE = 0.20
CITY = "Poznań"
CONSENT_VERSION = "2026-01"
# Consents fall in a fixed window, so the generated rows do not depend on the day of loading.
CONSENT_FROM = datetime(2026, 1, 15, tzinfo=UTC)
CONSENT_UNTIL = datetime(2026, 11, 15, tzinfo=UTC)

# The city is drawn in kilometres east/north of the centre, then projected to WGS84.
CENTRE_LAT, CENTRE_LON = 52.4064, 16.9252
KM_PER_DEG_LAT = 111.2
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(CENTRE_LAT))
HALF_WIDTH_KM, HALF_HEIGHT_KM = 7.5, 6.5  # ~15 km × 13 km

# Addresses keep this far from zone edges, so each point is inside exactly one zone
# whatever the rounding of coordinates on their way to PostGIS.
EDGE_MARGIN_KM = 0.04

_ANALYZE_CITY = text("ANALYZE subscriber; ANALYZE address_point; ANALYZE zone")

# Two ids for pg_advisory_xact_lock: two concurrent `flask demo load` runs load the city once.
_LOCK = (0x5359_5245, 0x0000_DE30)

# Mobile prefixes of Polish operators; every generated number is checked with phonenumbers anyway.
_MOBILE_PREFIXES = (
    "500",
    "501",
    "502",
    "503",
    "504",
    "505",
    "506",
    "507",
    "508",
    "509",
    "510",
    "511",
    "512",
    "513",
    "514",
    "515",
    "516",
    "517",
    "518",
    "519",
    "530",
    "531",
    "532",
    "533",
    "534",
    "535",
    "536",
    "537",
    "538",
    "539",
    "570",
    "571",
    "572",
    "573",
    "574",
    "575",
    "600",
    "601",
    "602",
    "603",
    "604",
    "605",
    "606",
    "607",
    "608",
    "609",
    "660",
    "661",
    "662",
    "663",
    "664",
    "665",
    "666",
    "667",
    "668",
    "669",
    "690",
    "691",
    "692",
    "693",
    "694",
    "695",
    "696",
    "697",
    "698",
    "720",
    "721",
    "722",
    "723",
    "724",
    "725",
    "726",
    "727",
    "728",
    "729",
    "730",
    "731",
    "732",
    "733",
    "734",
    "735",
    "780",
    "781",
    "782",
    "783",
    "784",
    "785",
    "786",
    "787",
    "788",
    "789",
    "790",
    "791",
    "792",
    "793",
    "794",
    "795",
    "796",
    "797",
    "798",
    "799",
    "880",
    "881",
    "882",
    "883",
    "884",
    "885",
    "886",
    "887",
    "888",
    "889",
)


@dataclass(frozen=True)
class District:
    name: str
    seed_km: tuple[float, float]  # the Voronoi seed, km east/north of the centre
    postcodes: tuple[str, ...]  # first four characters, e.g. "61-8"
    streets: tuple[str, ...]  # "ul."/"al."/"pl." streets get houses along a line; "os." are estates of blocks


# Roughly where these districts lie in Poznań; their streets are typical of each.
DISTRICTS: tuple[District, ...] = (
    District(
        "Stare Miasto",
        (0.0, 0.3),
        ("61-7", "61-8"),
        (
            "ul. Święty Marcin",
            "ul. Półwiejska",
            "ul. Wrocławska",
            "ul. Wodna",
            "ul. Żydowska",
            "ul. Szewska",
            "ul. Wroniecka",
            "ul. Garbary",
            "ul. Paderewskiego",
            "ul. 27 Grudnia",
            "ul. Ratajczaka",
            "ul. Gwarna",
            "ul. Fredry",
            "ul. Mielżyńskiego",
            "al. Marcinkowskiego",
            "ul. Kościuszki",
            "ul. Podgórna",
            "ul. Strzelecka",
            "ul. Małe Garbary",
            "ul. Działowa",
            "ul. Mostowa",
            "ul. Dominikańska",
            "pl. Wolności",
            "ul. Taczaka",
            "ul. Ogrodowa",
            "al. Niepodległości",
        ),
    ),
    District(
        "Jeżyce",
        (-2.6, 1.3),
        ("60-5", "60-6"),
        (
            "ul. Dąbrowskiego",
            "ul. Kraszewskiego",
            "ul. Jackowskiego",
            "ul. Szamarzewskiego",
            "ul. Słowackiego",
            "ul. Mickiewicza",
            "ul. Kościelna",
            "ul. Prusa",
            "ul. Staszica",
            "ul. Polna",
            "ul. Żeromskiego",
            "ul. Kasprowicza",
            "ul. Norwida",
            "ul. Sienkiewicza",
            "ul. Poznańska",
            "ul. Wawrzyniaka",
            "ul. Kochanowskiego",
            "ul. Dąbrówki",
            "ul. Lutycka",
            "ul. Szczepanowskiego",
        ),
    ),
    District(
        "Łazarz",
        (-1.7, -1.8),
        ("60-2",),
        (
            "ul. Głogowska",
            "ul. Kanałowa",
            "ul. Łukaszewicza",
            "ul. Matejki",
            "ul. Wyspiańskiego",
            "ul. Chociszewskiego",
            "ul. Małeckiego",
            "ul. Stablewskiego",
            "ul. Limanowskiego",
            "ul. Śniadeckich",
            "ul. Palacza",
            "ul. Niegolewskich",
            "ul. Kolejowa",
            "ul. Klaudyny Potockiej",
            "ul. Hetmańska",
            "ul. Górecka",
            "ul. Strusia",
            "ul. Mottego",
        ),
    ),
    District(
        "Wilda",
        (0.5, -2.7),
        ("61-4", "61-5"),
        (
            "ul. Górna Wilda",
            "ul. Wierzbięcice",
            "ul. Dolna Wilda",
            "ul. Przemysłowa",
            "ul. Różana",
            "ul. Kosińskiego",
            "ul. Świętego Czesława",
            "ul. 28 Czerwca 1956 r.",
            "ul. Dębiecka",
            "ul. Fabryczna",
            "ul. Traugutta",
            "ul. Sikorskiego",
            "ul. Chłapowskiego",
            "ul. Wybickiego",
            "ul. Prądzyńskiego",
            "ul. Madalińskiego",
            "ul. Łozowa",
            "ul. Wspólna",
        ),
    ),
    District(
        "Grunwald",
        (-4.3, -0.5),
        ("60-3",),
        (
            "ul. Grunwaldzka",
            "ul. Bułgarska",
            "ul. Marcelińska",
            "ul. Ostroroga",
            "ul. Grochowska",
            "ul. Jugosłowiańska",
            "ul. Smoluchowskiego",
            "ul. Reymonta",
            "ul. Bukowska",
            "ul. Arciszewskiego",
            "ul. Przybyszewskiego",
            "ul. Wojskowa",
            "ul. Rycerska",
            "os. Kopernika",
            "os. Kwiatowe",
            "ul. Szylinga",
        ),
    ),
    District(
        "Junikowo",
        (-6.0, -2.9),
        ("60-1",),
        (
            "ul. Malwowa",
            "ul. Pogodna",
            "ul. Kopanina",
            "ul. Złotowska",
            "ul. Ceglana",
            "ul. Leśna",
            "ul. Wiosenna",
            "ul. Miodowa",
            "ul. Jarzębinowa",
            "ul. Skórzewska",
            "ul. Platynowa",
            "ul. Srebrna",
            "ul. Świerkowa",
            "ul. Fabianowska",
            "os. Kwiatowe Wzgórze",
        ),
    ),
    District(
        "Winogrady",
        (-0.1, 3.2),
        ("61-6",),
        (
            "os. Przyjaźni",
            "os. Wichrowe Wzgórze",
            "os. Zwycięstwa",
            "os. Pod Lipami",
            "os. Kosmonautów",
            "os. Kraju Rad",
            "ul. Słowiańska",
            "ul. Wilczak",
            "ul. Lechicka",
            "ul. Murawa",
            "ul. Szelągowska",
            "ul. Winogrady",
            "ul. Serbska",
            "ul. Hawelańska",
            "ul. Kurpińskiego",
        ),
    ),
    District(
        "Piątkowo",
        (-1.3, 5.3),
        ("61-1", "61-3"),
        (
            "os. Stefana Batorego",
            "os. Bolesława Chrobrego",
            "os. Jana III Sobieskiego",
            "os. Władysława Łokietka",
            "os. Marysieńki",
            "os. Zygmunta Starego",
            "os. Kazimierza Jagiellończyka",
            "os. Władysława Jagiełły",
            "ul. Obornicka",
            "ul. Horacego",
            "ul. Stawna",
            "ul. Szeligowskiego",
        ),
    ),
    District(
        "Naramowice",
        (2.4, 4.6),
        ("61-6", "61-7"),
        (
            "ul. Naramowicka",
            "ul. Sarmacka",
            "ul. Rubież",
            "ul. Jasna Rola",
            "ul. Błażeja",
            "ul. Sielska",
            "ul. Literacka",
            "ul. Radojewo",
            "ul. Nadolnik",
            "ul. Łużycka",
            "ul. Zagajnikowa",
            "ul. Jaśminowa",
            "ul. Umultowska",
            "os. Kwiatowy Zakątek",
        ),
    ),
    District(
        "Główna",
        (3.1, 1.6),
        ("61-0",),
        (
            "ul. Główna",
            "ul. Gdyńska",
            "ul. Bałtycka",
            "ul. Smolna",
            "ul. Mławska",
            "ul. Chlebowa",
            "ul. Żniwna",
            "ul. Gnieźnieńska",
            "ul. Krańcowa",
            "ul. Gorzysława",
            "ul. Kutrzeby",
            "ul. Bobrzańska",
            "ul. Wiejska",
        ),
    ),
    District(
        "Rataje",
        (2.9, -1.6),
        ("61-3", "61-4"),
        (
            "os. Piastowskie",
            "os. Jagiellońskie",
            "os. Orła Białego",
            "os. Bohaterów II Wojny Światowej",
            "os. Armii Krajowej",
            "os. Powstań Narodowych",
            "os. Stare Żegrze",
            "ul. Zamenhofa",
            "ul. Hlonda",
            "ul. Szwajcarska",
            "ul. Inflancka",
            "ul. Polanka",
            "ul. Katowicka",
        ),
    ),
    District(
        "Chartowo",
        (5.6, -0.9),
        ("61-2",),
        (
            "os. Tysiąclecia",
            "os. Czecha",
            "os. Lecha",
            "os. Rusa",
            "os. Oświecenia",
            "ul. Kurlandzka",
            "ul. Żegrze",
            "ul. Chartowo",
            "ul. Piwna",
            "ul. Tomickiego",
            "ul. Bobrzyka",
        ),
    ),
)


@dataclass
class DemoAddress:
    street: str
    house_number: str
    postcode: str
    lon: float
    lat: float
    district: int  # index into DISTRICTS
    residents: float  # relative weight when placing subscribers

    @property
    def text(self) -> str:
        return f"{self.street} {self.house_number}, {self.postcode} {CITY}"

    @property
    def ewkt(self) -> str:
        return f"SRID=4326;POINT({self.lon:.7f} {self.lat:.7f})"


@dataclass
class DemoSubscriber:
    phone: str
    language: str
    status: str
    source: str
    consent_at: datetime
    verified_at: datetime | None
    home: int  # index into addresses
    work: int | None = None
    topics: tuple[str, ...] = ()  # informational topics chosen (alerts reach everyone anyway)


@dataclass
class DemoCity:
    zones: list[tuple[str, Polygon]] = field(default_factory=list)  # name, WGS84 polygon
    addresses: list[DemoAddress] = field(default_factory=list)
    subscribers: list[DemoSubscriber] = field(default_factory=list)


def _to_wgs84(geom):
    return shapely.transform(geom, lambda xy: xy / (KM_PER_DEG_LON, KM_PER_DEG_LAT) + (CENTRE_LON, CENTRE_LAT))


def _outline(rng: random.Random) -> Polygon:
    """An irregular, roughly elliptical city boundary, in km."""
    phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
    points = []
    for i in range(120):
        t = 2 * math.pi * i / 120
        r = (
            1
            + 0.07 * math.sin(2 * t + phases[0])
            + 0.05 * math.sin(3 * t + phases[1])
            + 0.03 * math.sin(5 * t + phases[2])
            + rng.uniform(-0.012, 0.012)
        )
        points.append((HALF_WIDTH_KM * r * math.cos(t), HALF_HEIGHT_KM * r * math.sin(t)))
    return Polygon(points)


def _zone_cells(rng: random.Random) -> list[Polygon]:
    """One polygon per district (in DISTRICTS order), in km: Voronoi cells of the seeds cut by the outline."""
    outline = _outline(rng)
    seeds = [Point(d.seed_km) for d in DISTRICTS]
    cells = voronoi_diagram(MultiPoint(seeds), envelope=outline.envelope.buffer(5)).geoms
    by_seed = []
    for seed in seeds:
        cell = next(c for c in cells if c.contains(seed))
        by_seed.append(shapely.set_precision(cell.intersection(outline), 1e-6))
    return by_seed


def _house_numbers(rng: random.Random, count: int, start: int, step: int) -> list[str]:
    numbers, n = [], start
    for _ in range(count):
        numbers.append(str(n) + ("A" if rng.random() < 0.04 else ""))
        n += step
    return numbers


def _point_inside(rng: random.Random, area: Polygon) -> tuple[float, float]:
    """A uniformly random point of the (prepared) area: points of its bounding box until one falls inside."""
    minx, miny, maxx, maxy = area.bounds
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(area, x, y):
            return x, y


def _addresses(rng: random.Random, cells_km: list[Polygon]) -> list[DemoAddress]:
    """Houses along straight streets and blocks in estates ("os."), inside their district, denser near the centre."""
    addresses: list[DemoAddress] = []
    for index, (district, cell) in enumerate(zip(DISTRICTS, cells_km)):
        inner = cell.buffer(-EDGE_MARGIN_KM)
        shapely.prepare(inner)
        grid = rng.uniform(0, math.pi / 2)  # each district has its own street-grid orientation
        for street in district.streets:
            postcode = rng.choice(district.postcodes) + f"{rng.randrange(100):02d}"
            for _attempt in range(50):
                x0, y0 = _point_inside(rng, inner)
                distance = math.hypot(x0, y0)
                if street.startswith("os."):
                    # An estate: numbered blocks scattered around its centre.
                    count = rng.randint(14, 40)
                    points = [(x0 + rng.gauss(0, 0.14), y0 + rng.gauss(0, 0.14)) for _ in range(count)]
                    points.sort(key=lambda p: (round(p[1] / 0.06), p[0]))
                    numbers = [str(i) for i in range(1, count + 1)]
                    residents = [rng.uniform(30, 90) for _ in points]
                else:
                    # A street: odd numbers on one side, even on the other, closer together near the centre.
                    angle = grid + rng.choice((0, math.pi / 2)) + rng.gauss(0, 0.12)
                    spacing = 0.018 + 0.006 * distance
                    length = rng.uniform(0.3, 1.1)
                    per_side = max(3, int(length / spacing))
                    dx, dy = math.cos(angle), math.sin(angle)
                    points, numbers = [], []
                    for side, first in ((1, 1), (-1, 2)):
                        offsets = [rng.uniform(-0.003, 0.003) + i * spacing for i in range(per_side)]
                        points += [(x0 + dx * s - dy * 0.012 * side, y0 + dy * s + dx * 0.012 * side) for s in offsets]
                        numbers += _house_numbers(rng, per_side, first, 2)
                    # Tenements in the centre house many households, villas in the suburbs a few.
                    residents = [max(4.0, 14.0 - 1.5 * distance) * rng.uniform(0.5, 1.5) for _ in points]
                keep = [i for i, (x, y) in enumerate(points) if shapely.contains_xy(inner, x, y)]
                if len(keep) >= max(6, len(points) // 2):
                    break
            lonlat = _to_wgs84(shapely.points([points[i] for i in keep]))
            for i, p in zip(keep, lonlat):
                addresses.append(
                    DemoAddress(street, numbers[i], postcode, round(p.x, 7), round(p.y, 7), index, residents[i])
                )
    return addresses


def _is_mobile(phone: str) -> bool:
    number = phonenumbers.parse(phone)
    return (
        phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    )


def _phones(rng: random.Random, count: int) -> list[str]:
    """Unique mobile numbers; Polish mobile ranges go by prefix, so checking a prefix's extremes
    is enough (checking each of 10,000 numbers with phonenumbers would take seconds)."""
    prefixes = [
        p for p in _MOBILE_PREFIXES if all(_is_mobile(f"+48{p}{tail}") for tail in ("000000", "123456", "999999"))
    ]
    phones: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < count:
        phone = "+48" + rng.choice(prefixes) + f"{rng.randrange(1_000_000):06d}"
        if phone not in phones:
            phones.add(phone)
            ordered.append(phone)
    return ordered


def _subscribers(rng: random.Random, addresses: list[DemoAddress]) -> list[DemoSubscriber]:
    homes = rng.choices(range(len(addresses)), weights=[a.residents for a in addresses], k=SUBSCRIBERS)
    # Workplaces crowd into the centre.
    work_weights = list(
        accumulate(a.residents * (3.0 if DISTRICTS[a.district].name == "Stare Miasto" else 1.0) for a in addresses)
    )
    window = (CONSENT_UNTIL - CONSENT_FROM).total_seconds()
    subscribers = []
    for phone, home in zip(_phones(rng, SUBSCRIBERS), homes):
        roll = rng.random()
        status = (
            SubscriberStatus.ACTIVE
            if roll < 0.95
            else SubscriberStatus.PENDING
            if roll < 0.98
            else SubscriberStatus.UNSUBSCRIBED
        ).value
        consent_at = CONSENT_FROM + timedelta(seconds=int(rng.random() * window))
        verified_at = (
            None if status == SubscriberStatus.PENDING.value else consent_at + timedelta(seconds=rng.randint(20, 900))
        )
        work = None
        if rng.random() < WORK_SHARE:
            work = rng.choices(range(len(addresses)), cum_weights=work_weights)[0]
            if work == home:
                work = None
        subscribers.append(
            DemoSubscriber(
                phone=phone,
                language=rng.choices(("pl", "en", "uk"), cum_weights=(92, 95, 100))[0],
                status=status,
                source=rng.choices(("web", "sms", "import"), cum_weights=(55, 90, 100))[0],
                consent_at=consent_at,
                verified_at=verified_at,
                home=home,
                work=work,
            )
        )
    return subscribers


# Share of residents who pick each informational topic when signing up (several may be picked).
TOPIC_SHARES = {"water": 0.30, "traffic": 0.35, "weather": 0.40, "events": 0.15}


def _choose_topics(rng: random.Random, subscribers: list[DemoSubscriber]) -> None:
    for s in subscribers:
        s.topics = tuple(topic for topic, share in TOPIC_SHARES.items() if rng.random() < share)


def generate_demo_city(seed: int = SEED) -> DemoCity:
    """The whole demo city in memory; the same seed always gives the same city."""
    rng = random.Random(seed)
    cells_km = _zone_cells(rng)
    addresses = _addresses(rng, cells_km)
    city = DemoCity(zones=[(d.name, _to_wgs84(cell)) for d, cell in zip(DISTRICTS, cells_km)], addresses=addresses)
    city.subscribers = _subscribers(rng, addresses)
    _choose_topics(random.Random(seed + 1), city.subscribers)  # its own generator: the rest stays as it was
    return city


def _existing(session: Session) -> dict[str, int]:
    return {
        "zones": session.scalar(select(func.count()).select_from(Zone)),
        "subscribers": session.scalar(select(func.count()).select_from(Subscriber)),
        "addresses": session.scalar(select(func.count()).select_from(AddressPoint)),
    }


def load_demo_city(session: Session, seed: int = SEED) -> str:
    """Write the demo city; the caller commits. Does nothing when zones, subscribers or addresses exist,
    since demo residents mixed into real ones (or into another city's zones) would mislead everyone."""
    session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _LOCK[0], "b": _LOCK[1]})
    existing = _existing(session)
    if any(existing.values()):
        demo = session.scalar(
            select(func.count()).select_from(Zone).where(Zone.slug.in_(["stare-miasto", "jezyce", "lazarz", "wilda"]))
        )
        what = "the demo city is already loaded" if demo else "the database already holds data"
        return (
            f"{what} ({existing['zones']:,} zones, {existing['addresses']:,} addresses, "
            f"{existing['subscribers']:,} subscribers); nothing changed"
        )

    city = generate_demo_city(seed)
    for name, polygon in city.zones:
        create_zone(session, name, mapping(polygon))

    # Core inserts on the session's connection: the ORM's bulk path splices each batch's results into
    # the previous ones, which took seconds here for a few thousand rows.
    connection = session.connection()
    connection.execute(
        insert(AddressPoint.__table__),
        [
            {
                "street": a.street,
                "house_number": a.house_number,
                "postcode": a.postcode,
                "city": CITY,
                "normalised_key": address_key(a.street, a.house_number),
                "geom": a.ewkt,
            }
            for a in city.addresses
        ],
    )
    connection.execute(
        insert(Subscriber.__table__),
        [
            {
                "phone": s.phone,
                "language": s.language,
                "status": s.status,
                "source": s.source,
                "consent_version": CONSENT_VERSION,
                "consent_at": s.consent_at,
                "verified_at": s.verified_at,
                "created_at": s.consent_at,
                "topics": list(s.topics),
            }
            for s in city.subscribers
        ],
    )
    ids = dict(connection.execute(select(Subscriber.phone, Subscriber.id)).all())

    locations = []
    for s in city.subscribers:
        for label, index in (("home", s.home), ("work", s.work)):
            if index is not None:
                a = city.addresses[index]
                locations.append(
                    {"subscriber_id": ids[s.phone], "label": label, "address": a.text, "geom": a.ewkt, "zone_id": None}
                )
    connection.execute(insert(SubscriberLocation.__table__), locations)
    cluster_locations(session)  # spatial order: whole-city counts read fewer pages
    # Fresh statistics: without them the planner takes the just-filled table for empty, and a campaign's
    # snapshot (the demo history sends four at once) took seconds instead of a tenth.
    session.execute(_ANALYZE_CITY)

    active = sum(s.status == SubscriberStatus.ACTIVE.value for s in city.subscribers)
    return (
        f"demo city loaded: {len(city.zones)} zones, {len(city.addresses):,} addresses, "
        f"{len(city.subscribers):,} subscribers ({active:,} active), "
        f"{len(locations) - len(city.subscribers):,} with a work address"
    )
