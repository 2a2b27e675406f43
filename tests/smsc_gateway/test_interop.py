"""The client against an SMSC nobody here wrote: the npm `smpp` package's server (installed on first use
into var/interop-npm, git-ignored), run by node."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from campaigns.delivery import match_receipts, record_send_results, store_receipts
from smsc_gateway.interface import OutboundSms
from smsc_gateway.rate import TokenBucket
from smsc_gateway.session import SmppSession
from syrena_core.config import SmscSettings
from syrena_core.queues import redis_connection
from tests.factories import make_campaign, message_ids
from tests.helpers import Sink, wait_until

ROOT = Path(__file__).resolve().parents[2]
NPM_DIR = ROOT / "var" / "interop-npm"
NPM_PACKAGE = "smpp@0.5.1"


@pytest.fixture(scope="module")
def node_smsc():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("the interoperability test needs node and npm (Debian: apt-get install nodejs npm)")
    if not (NPM_DIR / "node_modules" / "smpp").is_dir():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        (NPM_DIR / "package.json").write_text('{"private": true}\n')
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", NPM_PACKAGE],
            cwd=NPM_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if installed.returncode != 0:
            pytest.fail(f"npm install {NPM_PACKAGE} failed:\n{installed.stderr[-2000:]}")
    proc = subprocess.Popen(
        [node, str(Path(__file__).parent / "interop" / "smsc.js")],
        cwd=NPM_DIR,
        env={"NODE_PATH": str(NPM_DIR / "node_modules"), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("listening "):
        proc.kill()
        pytest.fail(f"the node SMSC did not start: {line}{proc.stdout.read()[-2000:]}")
    yield int(line.split()[1])
    proc.terminate()
    proc.wait(10)
    proc.stdout.close()


def test_the_client_submits_and_matches_receipts_with_an_independent_smsc(node_smsc):
    receipts, mo = Sink(), Sink()
    session = SmppSession(SmscSettings(port=node_smsc, window=10, enquire_link_interval=1), None, receipts, mo)
    session.start()
    try:
        assert session.wait_bound(10), "no bind with the node SMSC"
        batch = [OutboundSms(ref=n, destination=f"+4860100{n:04d}", text=f"Komunikat {n}") for n in range(40)]
        batch.append(OutboundSms(ref=99, destination="+48601009999", text="Długi komunikat z ogonkami. " * 4))
        results = session.send(batch)
        assert all(r.accepted for r in results)
        ids = {i for r in results for i in r.smsc_message_ids}
        assert len(ids) == 40 + results[-1].parts
        wait_until(lambda: len(receipts.items) == len(ids), 15, "a receipt for every part")
        assert {r.smsc_message_id for r in receipts.items} == ids
        assert {r.state for r in receipts.items} == {"DELIVRD"}
        wait_until(lambda: mo.items, 10, "the MO the node SMSC sends on bind")
        assert (mo.items[0].source, mo.items[0].text) == ("+48601999000", "HELP")
    finally:
        session.stop()


def test_an_smsc_restarting_mid_campaign_reuses_ids_and_every_receipt_finds_its_part(node_smsc, db, settings, wait):
    """The node SMSC restarts (connections closed, ids numbered from the start again) between two halves of a
    campaign: the second half gets the first half's ids. Every part is accepted; every receipt names, and
    settles, the part it was sent for — the first half undeliverable, the second delivered."""
    first_half = [f"+48601{n:04d}77" for n in range(30)]  # receipted UNDELIV by the node SMSC
    second_half = [f"+48602{n:04d}00" for n in range(30)]  # DELIVRD
    restart = "+48699999999"
    phones = first_half + [restart] + second_half + [restart]
    campaign_id, _phones = make_campaign(db, phones=phones, body="Test", sent_ago=None, message_status="submitting")
    refs = message_ids(db, campaign_id)
    sms = [OutboundSms(ref=ref, destination=phone, text="Komunikat") for ref, phone in zip(refs, phones)]
    first, restart_1, second, restart_2 = sms[:30], sms[30], sms[31:61], sms[61]

    receipts, mo = Sink(), Sink()
    session = SmppSession(SmscSettings(port=node_smsc, window=10, enquire_link_interval=1), None, receipts, mo)
    session.start()
    results = []

    def send_then_restart(batch, trigger):
        got = session.send(batch)
        assert all(r.accepted for r in got)
        wait(
            lambda: {r.smsc_message_id for r in receipts.items} >= {i for r in got for i in r.smsc_message_ids},
            15,
            "the receipts of the batch",
        )
        reconnects = session.stats["reconnects"]
        got += session.send([trigger])
        wait(lambda: session.stats["reconnects"] > reconnects and session.is_bound, 20, "the SMSC restarted")
        results.extend(got)
        return got

    try:
        assert session.wait_bound(10), "no bind with the node SMSC"
        session.send([OutboundSms(ref=0, destination=restart, text="Start")])  # numbering from the start
        wait(lambda: session.stats["reconnects"] >= 1 and session.is_bound, 20, "the SMSC restarted")
        receipts.items.clear()
        got_first = send_then_restart(first, restart_1)
        got_second = send_then_restart(second, restart_2)
    finally:
        session.stop()

    first_ids = [r.smsc_message_ids[0] for r in got_first[:30]]
    second_ids = [r.smsc_message_ids[0] for r in got_second[:30]]
    assert first_ids == second_ids  # every id of the second half was reused
    owner = {r.ref: r.smsc_message_ids[0] for r in results}
    final = [r for r in receipts.items if r.state in ("DELIVRD", "UNDELIV")]
    assert len(final) == len(results)
    for receipt in final:  # the session named the right part, despite the reuse
        assert receipt.message_ref in owner and owner[receipt.message_ref] == receipt.smsc_message_id
        assert receipt.state == ("UNDELIV" if receipt.message_ref in {s.ref for s in first} else "DELIVRD")

    # Recorded in the order a worker would: each half's results, then its receipts.
    record_send_results(db, got_first, settings.billing)
    store_receipts(db, [r for r in final if r.message_ref in {s.ref for s in first + [restart_1]}])
    db.commit()
    match_receipts(db)
    db.commit()
    record_send_results(db, got_second, settings.billing)
    store_receipts(db, [r for r in final if r.message_ref in {s.ref for s in second + [restart_2]}])
    db.commit()
    match_receipts(db)
    db.commit()
    settled = dict(
        db.execute(
            text("SELECT phone, status FROM message WHERE campaign_id = :c AND phone <> :r"),
            {"c": campaign_id, "r": restart},
        ).all()
    )
    assert settled == {**dict.fromkeys(first_half, "failed"), **dict.fromkeys(second_half, "delivered")}


def test_a_throttling_burst_slows_the_link_and_every_message_is_accepted_once(node_smsc, gateway_redis_url):
    settings = SmscSettings(port=node_smsc, window=10, tps=100, system_type="burst")
    bucket = TokenBucket(redis_connection(gateway_redis_url), f"syrena:tps:node:{node_smsc}", settings.tps)
    session = SmppSession(settings, bucket, Sink(), Sink())
    rates, stop = [], threading.Event()

    def watch():
        while not stop.wait(0.02):
            rates.append(session.status()["rate_now"])

    session.start()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert session.wait_bound(10), "no bind with the node SMSC"
        results = session.send(
            [OutboundSms(ref=n, destination=f"+4860200{n:04d}", text=f"Alarm {n}") for n in range(200)]
        )
        sent = 200

        def recovered():
            nonlocal sent
            results.extend(
                session.send(
                    [
                        OutboundSms(ref=n, destination=f"+4860200{n:04d}", text=f"Alarm {n}")
                        for n in range(sent, sent + 30)
                    ]
                )
            )
            sent += 30
            return session.status()["rate_now"] >= 0.95 * bucket.ceiling

        wait_until(recovered, 60, "the link's rate back near its TPS")
    finally:
        stop.set()
        watcher.join()
        session.stop()
    assert all(r.accepted for r in results)
    ids = [i for r in results for i in r.smsc_message_ids]
    assert len(ids) == len(set(ids)) == sent  # every message accepted exactly once ...
    assert session.stats["throttled"] == 40  # ... after the burst of 40 refusals, each retried
    assert session.stats["submitted"] == sent + 40  # (and nothing else sent twice)
    assert min(rates) < 0.7 * bucket.ceiling  # the link slowed down, then climbed back


def test_a_call_out_is_sent_receipted_and_answered_through_an_independent_smsc(node_smsc, db, start_worker, wait):
    """A `flask worker` bound to the node SMSC sends a call-out (found queued in the database: its own Redis is
    new), the receipts settle each SMS, and the members' answers come back as MO from the node SMSC (the phones
    4869955… answer "Tak, jade", 4869966… "nie moge") and are recorded on the board (issue 20)."""
    from campaigns import callouts, groups
    from campaigns.models import Callout

    yes, no, silent = "+48699550001", "+48699660002", "+48601000003"
    team = groups.create_group(
        db, None, {"name": "ZZK", "kind": "team", "members": [{"phone": yes}, {"phone": no}, {"phone": silent}]}
    )
    db.commit()
    callout = callouts.create(db, None, {"group_ids": [team.id], "body": "Zbiorka w CZK"})
    db.commit()
    start_worker(port=node_smsc)

    def board():
        db.expire_all()
        b = callouts.callout_json(db, db.get(Callout, callout.id))
        states = {m["phone"]: (m["state"], m["delivery"]) for m in b["members"]}
        done = states[yes][0] == "confirmed" and states[no][0] == "declined" and states[silent][1] == "delivered"
        return b if done else None

    b = wait(board, 60, "the SMS receipted and both answers recorded")
    assert b["groups"][0]["confirmed"] == 1 and b["groups"][0]["declined"] == 1
    assert {m["phone"]: m["reply_text"] for m in b["members"]} == {yes: "Tak, jade", no: "nie moge", silent: None}
    sent = db.execute(text("SELECT phone, status FROM message WHERE campaign_id = :c"), {"c": callout.campaign_id})
    assert dict(sent.all()) == dict.fromkeys((yes, no, silent), "delivered")
