"""Where the bridge may listen, decided before anything heavy is imported.

Kept free of the web stack so ``wfwatch serve --host 0.0.0.0`` without a
token fails in milliseconds, and so the main CLI can register ``serve``
without importing Starlette and uvicorn for every other command.
"""

from __future__ import annotations

import ipaddress
from typing import Final

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765


class BridgeConfigError(Exception):
    """The bridge cannot start as configured; ``str()`` is one line a user can act on."""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose the bridge beyond loopback without a bearer token."""
    if not is_loopback(host) and not token:
        raise BridgeConfigError(
            f"refusing to listen on {host!r} without a token: anyone who can reach it could read and steer "
            "every session (set --token or WFWATCH_TOKEN, or bind 127.0.0.1)"
        )
