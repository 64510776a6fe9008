"""The OSC bridge that serves models to Max for Live, Max, Pure Data and OSC controllers.
The contract is docs/protocol.md; ``OSCServer`` implements it."""

from bridge.server.osc_server import PROTOCOL_VERSION, OSCServer, ServerConfig
from bridge.wire import encode

__all__ = ["PROTOCOL_VERSION", "OSCServer", "ServerConfig", "encode"]
