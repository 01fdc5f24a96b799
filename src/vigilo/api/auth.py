"""The management API key: one FastAPI dependency shared by the routers that manage the server.

Keys come from `server.api_keys` (`VIGILO_SERVER__API_KEYS='["..."]'` works too) and are presented as
`Authorization: Bearer KEY` or `X-API-Key: KEY`, compared in constant time as for the inbound alerts API.
With no key configured the management API answers loopback clients only (the address uvicorn reports,
after its proxy-header handling): `make run` on the embedded defaults works from the same machine, and
nothing is open to the network by accident. Every refusal is a 401 JSON error.
"""

from __future__ import annotations

import ipaddress
import logging

from fastapi import Depends, Request
from pydantic import SecretStr

from vigilo.api.errors import ApiError

log = logging.getLogger(__name__)


def management_keys(request: Request) -> list[SecretStr]:
    keys: list[SecretStr] = request.app.state.settings.server.api_keys
    return keys


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for names and anything unparsable."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def require_management_key(request: Request) -> None:
    """Raises a 401 `ApiError` unless the request may use the management API (see the module docstring)."""
    from vigilo.alerts.inbound import key_ok, presented_key

    keys = management_keys(request)
    if keys:
        presented = presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
        if not key_ok(presented, keys):
            raise ApiError(401, "unauthorized")
        return
    if not is_loopback(request.client.host if request.client else None):
        raise ApiError(401, "management_local_only")


ManagementKey = Depends(require_management_key)
"""Use as `dependencies=[ManagementKey]` on a router or a route."""


def warn_when_open(api_keys: list[SecretStr], host: str) -> None:
    """The startup note when no management key is configured."""
    if api_keys:
        return
    exposed = "" if is_loopback(host) or host == "localhost" else f" (listening on {host}: remote clients get 401)"
    log.warning(
        "server.api_keys is empty: the management API (cameras, events) answers loopback clients only%s",
        exposed,
    )
