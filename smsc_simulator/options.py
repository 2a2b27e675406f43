"""What the simulator is told: where it listens, the one account it accepts, and how it behaves.

The defaults are the configuration's (syrena_core.config): [simulator] for its behaviour, [smsc] for the port and
the account (the simulator stands in for the SMSC the gateway binds to), so `config.toml` and the settings classes
stay the one place they are written. `SimulatorOptions.from_settings` is what `flask smsc simulate` runs with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from syrena_core.config import Settings, SimulatorSettings, SmscSettings

_SIMULATOR = SimulatorSettings()
_SMSC = SmscSettings()


@dataclass
class SimulatorOptions:
    host: str = "127.0.0.1"  # where it listens for SMPP (no setting: it runs beside the gateway, for tests and demos)
    port: int = _SMSC.port  # SMPP port (0 = pick a free one)
    control_host: str = "127.0.0.1"
    control_port: int = _SIMULATOR.control_port  # HTTP control port (0 = pick a free one)
    system_id: str = _SMSC.system_id  # the one ESME account; a mismatch is refused with ESME_RINVSYSID
    password: str = field(default=_SMSC.password, repr=False)  # ... a wrong one gets ESME_RINVPASWD (never logged)
    receipt_delay: float = _SIMULATOR.receipt_delay  # seconds between submit_sm and its delivery receipt (the least)
    receipt_delay_max: float = _SIMULATOR.receipt_delay_max  # above receipt_delay: receipts wait uniformly in between
    delivered_ratio: float = _SIMULATOR.delivered_ratio  # share of messages receipted DELIVRD ...
    expired_ratio: float = _SIMULATOR.expired_ratio  # ... EXPIRED err:000; the rest get UNDELIV err:001
    receipt_form: str = _SIMULATOR.receipt_form  # "both": TLVs and text; "tlv": TLVs only; "text": text only
    # No setting: tests ask for "hex" to play an SMSC whose receipt text and submit_sm_resp ids differ.
    receipt_text_id: str = "dec"  # "dec" as in submit_sm_resp, or "hex": the text id in hexadecimal
    tps: float = _SIMULATOR.tps  # its own limit: submit_sm beyond it in any 1 s window get ESME_RTHROTTLED; 0 = none
    error_ratio: float = _SIMULATOR.error_ratio  # share of submit_sm answered with a random error status
    throttle_ratio: float = _SIMULATOR.throttle_ratio  # share refused at random with ESME_RTHROTTLED (a busy SMSC)
    disconnect_ratio: float = _SIMULATOR.disconnect_ratio  # share after which the connection drops unanswered
    deliver_window: int = _SIMULATOR.deliver_window  # deliver_sm left unanswered at most per connection; 0 = no limit
    wrap_ids_at: int = _SIMULATOR.wrap_ids_at  # message ids start again after this many (a wrapping counter); 0 = never
    seed: int = 1  # the random faults above are reproducible (no setting: tests pick their own)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> SimulatorOptions:
        """The options of the configuration: every [simulator] key of the same name, [smsc]'s port and account;
        `overrides` (e.g. the command line's) win. Fields that are no setting keep their defaults."""
        simulator = settings.simulator
        options = {f.name: getattr(simulator, f.name) for f in dataclasses.fields(cls) if hasattr(simulator, f.name)}
        options.update(port=settings.smsc.port, system_id=settings.smsc.system_id, password=settings.smsc.password)
        options.update(overrides)
        return cls(**options)
