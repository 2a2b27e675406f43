"""The demo's call-out groups (issue 20): Poznań's crisis-management team with deputies, the services, the local
media and a test group — so that `make run` shows a call-out's board with people to call. Invented names; the
numbers are in a block of the demo's own (+48 609 90x xxx) that the demo residents never get."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import groups
from campaigns.models import ContactGroup

# (name, kind, needed, [(name, phone, function, deputy phone)])
DEMO_GROUPS = [
    (
        "Zespół Zarządzania Kryzysowego",
        "team",
        4,
        [
            ("Anna Nowicka", "+48609900001", "przewodnicząca ZZK", "+48609900002"),
            ("Piotr Wiśniewski", "+48609900002", "zastępca przewodniczącej", "+48609900003"),
            ("Marta Kowalczyk", "+48609900003", "dyrektor Wydziału Zarządzania Kryzysowego", "+48609900004"),
            ("Tomasz Zieliński", "+48609900004", "dyżurny CZK", "+48609900005"),
            ("Ewa Lewandowska", "+48609900005", "rzecznik prasowy", "+48609900011"),
            ("Jan Kamiński", "+48609900006", "szef logistyki", None),
        ],
    ),
    (
        "Służby: PSP, OSP, Aquanet, szkoły",
        "services",
        3,
        [
            ("bryg. Adam Woźniak", "+48609900021", "dowódca JRG 2 PSP", "+48609900022"),
            ("Krzysztof Mazur", "+48609900022", "naczelnik OSP Kiekrz", None),
            ("inż. Beata Krawczyk", "+48609900023", "dyżurny inżynier Aquanet", "+48609900024"),
            ("Michał Dudek", "+48609900024", "kierownik sieci Aquanet", None),
            ("Agnieszka Pawlak", "+48609900025", "dyrektor SP nr 34 (Starołęka)", None),
        ],
    ),
    (
        "Media lokalne",
        "media",
        None,
        [
            ("Radio Merkury — wydawca", "+48609900031", "redakcja", None),
            ("Radio Poznań — serwis", "+48609900032", "redakcja", None),
            ("Głos Wielkopolski — dyżur", "+48609900033", "redakcja", None),
        ],
    ),
    (
        "Sztab — telefony testowe",
        "test",
        None,
        [
            ("Dyżurny CZK (telefon służbowy)", "+48609900041", "dyżurny", None),
            ("Zastępca dyżurnego", "+48609900042", "dyżurny", None),
        ],
    ),
]


def load_demo_groups(session: Session) -> str:
    """Write the demo's groups once (nothing when any group exists); the caller commits."""
    if session.scalar(select(func.count()).select_from(ContactGroup)):
        return "contact groups exist already; no demo groups added"
    for name, kind, needed, members in DEMO_GROUPS:
        groups.create_group(
            session,
            None,
            {
                "name": name,
                "kind": kind,
                "needed": needed,
                "members": [
                    {"name": n, "phone": p, "function": f, "order": i, "deputy_phone": d}
                    for i, (n, p, f, d) in enumerate(members)
                ],
            },
        )
    return f"demo groups: {len(DEMO_GROUPS)} ({sum(len(m) for *_, m in DEMO_GROUPS)} people) for call-outs"
