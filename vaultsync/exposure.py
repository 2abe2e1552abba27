"""What the dev-server announces: a URL a client can use, and a loud warning when it is open to the network.

Bound to every interface (``--host 0.0.0.0``), the server's own address is not one a client can
connect to; and without ``--api-key-file`` anyone who reaches the port can read every secret.
The spec keeps such a server open (like a connector with no auth configured, and as containers
need to publish a port), so this warns rather than refuses.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

_WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def announcement(line: str, host: str, *, has_key: bool) -> tuple[str, list[str]]:
    """The ``EDC_MANAGEMENT_URL=...`` line to print for a server bound to ``host``, and notes for stderr."""
    name, _, url = line.partition("=")
    parts = urlsplit(url)
    notes = []
    if host in _WILDCARDS:
        local = "[::1]" if ":" in (parts.hostname or "") else "127.0.0.1"
        port = f":{parts.port}" if parts.port is not None else ""
        url = urlunsplit(parts._replace(netloc=local + port))
        outside = urlunsplit(parts._replace(netloc=socket.gethostname() + port))
        notes.append(f"# listening on all interfaces; from other machines use {outside} (or this machine's address)")
    if not is_loopback(host) and not has_key:
        notes.insert(
            0,
            f"WARNING: the dev-server listens on {host or 'all interfaces'} without --api-key-file: anyone who can "
            "reach this machine on that port can read, write and delete every secret in it, with no key. It is "
            "for demos and tests, not a vault: give --api-key-file FILE, or --host 127.0.0.1 to keep it local.",
        )
    return f"{name}={url}", notes
