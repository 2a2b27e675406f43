"""Small helpers for tests: an HTTP JSON client and bounded waiting."""
from __future__ import annotations

import faulthandler
import json
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from typing import Any, Callable, Iterator


class ApiClient:
    def __init__(self, base: str, token: str | None):
        self.base, self.token = base, token

    def with_token(self, token: str | None) -> "ApiClient":
        return ApiClient(self.base, token)

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, payload = r.status, r.read()
        except urllib.error.HTTPError as e:
            with e:  # an unclosed error response is a ResourceWarning (an error in this suite) when collected
                status, payload = e.code, e.read()
        try:
            return status, json.loads(payload or b"null")
        except json.JSONDecodeError:
            return status, payload.decode(errors="replace")

    def get(self, path: str) -> tuple[int, Any]:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        return self.call("POST", path, body, raw)


def wait_until(predicate: Callable[[], Any], seconds: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    # What every thread of this process (the live server's among them) was doing: a hang shows where.
    faulthandler.dump_traceback(all_threads=True)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


@contextmanager
def running_simulator(receipt_delay: float = 0.2) -> Iterator[Any]:
    """The SMSC simulator on free ports, with the credentials the test settings use."""
    from smsc_simulator import SimulatorOptions, SmscSimulator
    sim = SmscSimulator(SimulatorOptions(port=0, control_port=0, system_id="syrena", password="secret",
                                         receipt_delay=receipt_delay))
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


class Collected:
    """What an SmppSession hands over (receipts, MO), gathered from its reader thread."""

    def __init__(self):
        self.receipts, self.mo = [], []
        self.lock = threading.Lock()

    def on_receipts(self, batch):
        with self.lock:
            self.receipts.extend(batch)

    def on_mo(self, batch):
        with self.lock:
            self.mo.extend(batch)
