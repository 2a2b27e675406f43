"""One home for each step (issue 18): views → campaigns.workflow → campaigns.dispatch → RQ → campaigns.jobs, with
no import cycle among the campaign modules and one rule for which control actions a campaign allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rq.utils import import_attribute

from campaigns import control, dispatch, jobs
from campaigns.exceptions import CampaignStateError
from campaigns.models import Campaign, CampaignStatus

PACKAGE = Path(control.__file__).parent


def _imports(path: Path) -> tuple[set[str], list[str]]:
    """The campaigns modules a module imports, and those it imports inside a function."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    nested: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module == "campaigns":
            names = [f"campaigns.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("campaigns."):
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("campaigns.")]
        found.update(n for n in names if (PACKAGE / f"{n.split('.', 1)[1]}.py").exists())
        if names and node.col_offset > 0:
            nested.extend(names)
    return found, nested


def test_the_campaign_modules_import_each_other_without_a_cycle_and_at_the_top():
    graph = {}
    for path in PACKAGE.glob("*.py"):
        found, nested = _imports(path)
        assert not nested, f"{path.name} imports {nested} inside a function"
        graph[f"campaigns.{path.stem}"] = found - {f"campaigns.{path.stem}"}

    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " → ".join((*path, module))
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
    # The send path's direction: the workflow uses dispatch, dispatch does not know the workflow or the jobs.
    assert "campaigns.dispatch" in graph["campaigns.workflow"]
    assert not graph["campaigns.dispatch"] & {"campaigns.workflow", "campaigns.jobs", "campaigns.control"}
    assert not graph["campaigns.service"] & {
        "campaigns.workflow",
        "campaigns.dispatch",
        "campaigns.jobs",
        "campaigns.control",
    }


def test_the_job_dispatch_enqueues_by_name_is_the_one_the_worker_runs():
    assert import_attribute(dispatch.DELIVER_CHUNK) is jobs.deliver_chunk


@pytest.mark.parametrize("status", [s.value for s in CampaignStatus])
@pytest.mark.parametrize("failed", [0, 3])
def test_the_control_actions_offered_are_exactly_those_allowed(status, failed):
    campaign = Campaign(status=status)
    offered = control.actions(campaign, failed)
    for action, done in (
        ("pause", "paused"),
        ("resume", "resumed"),
        ("cancel", "cancelled"),
        ("resend-failed", "resent"),
    ):
        if action in offered:
            control._require(campaign, action, done)
        elif action != "resend-failed" or failed:
            with pytest.raises(CampaignStateError):
                control._require(campaign, action, done)
    expected = {
        "sending": ["pause", "cancel"] + (["resend-failed"] if failed else []),
        "paused": ["resume", "cancel"] + (["resend-failed"] if failed else []),
        "completed": ["resend-failed"] if failed else [],
        "draft": ["cancel"],
        "pending_approval": ["cancel"],
        "approved": ["cancel"],
        "scheduled": ["cancel"],
    }
    assert offered == expected.get(status, [])
