"""Whose address a request is made from, for throttling.

The password grant and registrations come from the frontend's servers, so the network peer is
the frontend for every person on the site: counting by it would let 20 failed sign-ins lock
everyone out. The frontend therefore passes the person's address in ``X-Forwarded-For`` (which
it sets, never forwards from the browser), and that header is believed only from an
authenticated frontend client: from anyone else it is ignored, whatever their network address.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request


def address_block(address: str) -> str:
    """IPv6 clients are counted per /64, the block one subscriber usually holds."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: one address each, not a /64.
        return str(parsed.ipv4_mapped)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def person_address(request: Request, *, from_frontend: bool) -> str:
    """The person's address: the first address in the frontend's ``X-Forwarded-For``, or the
    network peer (for any other client, or when the frontend sent no valid one)."""
    if from_frontend:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",", 1)[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            pass
    return request.client.host if request.client else "unknown"
