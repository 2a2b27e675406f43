"""Several links behind one gateway: they pull from one queue, so traffic splits by each link's TPS and
they add up; a link that goes down hands what it had not started to the others; failover links wait."""

from __future__ import annotations

from smsc_gateway.interface import OutboundSms
from smsc_gateway.router import GatewayRouter
from tests.helpers import wait_until


def _batch(count: int) -> list[OutboundSms]:
    return [OutboundSms(ref=n, destination=f"+4861{n:07d}", text=f"Alert {n}") for n in range(1, count + 1)]


def _received(*simulators) -> list[list[str]]:
    return [[m["destination_addr"] for m in sim.messages()] for sim in simulators]


def test_two_primaries_split_the_traffic_by_their_tps_and_add_up(start_simulator, paced_session):
    fast_smsc, slow_smsc = start_simulator(), start_simulator()
    fast = paced_session(fast_smsc, tps=60, name="operator-a")
    slow = paced_session(slow_smsc, tps=20, name="operator-b")
    router = GatewayRouter([fast, slow])

    results = router.send(_batch(240))

    assert all(r.accepted for r in results)
    on_fast, on_slow = _received(fast_smsc, slow_smsc)
    assert len(on_fast) + len(on_slow) == 240 and len(set(on_fast) | set(on_slow)) == 240  # each once
    assert 0.65 <= len(on_fast) / 240 <= 0.85  # ~3:1 like their TPS (the old router put it all on one)
    assert {r.smsc for r in results} == {"operator-a", "operator-b"}


def test_a_primary_going_down_hands_its_share_to_the_other(start_simulator, paced_session):
    smsc_a, smsc_b = start_simulator(), start_simulator()
    a = paced_session(smsc_a, tps=40, name="operator-a", failover_after=1, window=5)
    b = paced_session(smsc_b, tps=40, name="operator-b", failover_after=1, window=5)
    router = GatewayRouter([a, b])

    pending = router.submit(_batch(300))
    wait_until(lambda: len(smsc_a.messages()) >= 30, 30, "operator-a under way")
    smsc_a.stop()
    results = pending.wait_all()

    accepted = [r for r in results if r.accepted]
    # At most operator-a's window of answers was lost with it: those come back as temporary failures.
    assert all(r.temporary for r in results if not r.accepted)
    assert len(results) - len(accepted) <= 5
    on_a, on_b = _received(smsc_a, smsc_b)
    assert len(set(on_a) | set(on_b)) >= 295
    assert len(on_b) > 150  # operator-b carried operator-a's share after it went down
    assert {r.smsc for r in accepted} == {"operator-a", "operator-b"}


def test_a_failover_link_waits_while_a_primary_is_up_then_takes_over(start_simulator, paced_session):
    primary_smsc, backup_smsc = start_simulator(), start_simulator()
    primary = paced_session(primary_smsc, tps=100, name="operator-a", failover_after=1)
    backup = paced_session(backup_smsc, tps=100, name="operator-b", role="failover", failover_after=1)
    router = GatewayRouter([primary, backup])

    assert all(r.accepted and r.smsc == "operator-a" for r in router.send(_batch(100)))
    assert len(backup_smsc.messages()) == 0

    primary_smsc.stop()
    wait_until(lambda: not primary.is_bound, 10, "the primary's bind lost")
    backup_smsc.clear_messages()
    assert all(r.accepted and r.smsc == "operator-b" for r in router.send(_batch(50)))
    assert len(backup_smsc.messages()) == 50
