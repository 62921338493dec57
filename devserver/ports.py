"""Free loopback ports, for the local runtime and whatever starts one (tests, benchmarks).

Imports nothing but the standard library, so a measured process can use it.
"""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
