"""Which Host names this server answers to, and the URLs to share with friends on the LAN.

Without ALLOWED_HOSTS in the environment the server allows the loopback
names plus where it was told to listen (BIND_HOST, set by `make run HOST=...`
through config.serve): a specific address or name is allowed as is; a
wildcard (0.0.0.0, ::) allows every address of this machine's interfaces and
its host name, so that a friend's browser can open http://<LAN address>:8000.
An explicit ALLOWED_HOSTS (production) is used as it is.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil

LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]"}


def is_wildcard(bind_host: str) -> bool:
    return bind_host.strip() in WILDCARD_HOSTS


def host_for_url(address: str) -> str:
    """How an address appears in a URL and in a Host header (IPv6 in brackets, as Django expects)."""
    try:
        return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        return address.lower()


def interface_addresses() -> list[str]:
    """Every IPv4 and IPv6 address of this machine's interfaces (zone suffixes dropped), loopback included."""
    found: list[str] = []
    for addresses in psutil.net_if_addrs().values():
        for entry in addresses:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = entry.address.split("%", 1)[0]
            if address not in found:
                found.append(address)
    return found


def machine_names() -> list[str]:
    """This machine's host name and its mDNS form (what `ping laptop.local` reaches on most LANs)."""
    name = socket.gethostname().lower().strip(".")
    if not name or name == "localhost":
        return []
    return [name] if name.endswith(".local") else [name, f"{name}.local"]


def allowed_hosts(*, explicit: str | None, bind_host: str | None) -> list[str]:
    """ALLOWED_HOSTS from the environment's value (comma-separated) and the address the server is bound to."""
    if explicit is not None and explicit.strip():
        return [h.strip() for h in explicit.split(",") if h.strip()]
    hosts = list(LOOPBACK_HOSTS)
    if bind_host is None:
        return hosts
    if is_wildcard(bind_host):
        extra = [host_for_url(a) for a in interface_addresses()] + machine_names()
    else:
        extra = [host_for_url(bind_host.strip().strip("[]"))]
    return hosts + [h for h in dict.fromkeys(extra) if h not in hosts]


def _is_lan_ipv4(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.version == 4 and not ip.is_loopback and not ip.is_link_local


def lan_urls(*, bind_host: str, port: int) -> list[str]:
    """The URLs other machines can open: the bound address if it is not loopback, or for a wildcard each
    non-loopback IPv4 address of this machine and its .local name. Empty when only this machine can connect."""
    if not is_wildcard(bind_host):
        host = bind_host.strip().strip("[]")
        return [] if host_for_url(host) in LOOPBACK_HOSTS else [f"http://{host_for_url(host)}:{port}/"]
    urls = [f"http://{a}:{port}/" for a in interface_addresses() if _is_lan_ipv4(a)]
    return urls + [f"http://{n}:{port}/" for n in machine_names() if n.endswith(".local")]
