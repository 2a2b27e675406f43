"""The demo's call-out groups: written once, valid groups of every kind, with deputies (so make run has people
to call out and a board that escalates)."""

from __future__ import annotations

from app.demo_groups import DEMO_GROUPS, load_demo_groups
from campaigns import groups


def test_the_demo_groups_are_written_once(db, settings):
    assert "4 (16 people)" in load_demo_groups(db)
    db.commit()
    written = groups.list_groups(db, None)
    assert sorted(g.kind for g in written) == ["media", "services", "team", "test"]
    team = next(g for g in written if g.kind == "team")
    assert team.needed == 4 and sum(1 for m in team.members if m.deputy_phone) == 5
    assert "no demo groups added" in load_demo_groups(db)
    assert len(groups.list_groups(db, None)) == len(DEMO_GROUPS)
