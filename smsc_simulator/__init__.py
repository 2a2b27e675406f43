"""The bundled SMSC simulator: a real SMPP 3.4 server with an HTTP control port, for tests, benchmarks and demos.

Not part of the production code: nothing in app/worker.py, campaigns or smsc_gateway imports it; `flask smsc
simulate` loads it when asked. It speaks through the gateway's own codec (smsc_gateway.pdu, smsc_gateway.encoding),
as Jasmin's fake SMSC shares its PDU library with the client.
"""

from smsc_simulator.options import SimulatorOptions
from smsc_simulator.server import SmscSimulator, serve_forever

__all__ = ["SimulatorOptions", "SmscSimulator", "serve_forever"]
