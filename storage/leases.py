"""Leases: how several instances on one database share the rows they send (migration 0009).

A reminder (storage/cases.py) or a desk outbox row (storage/outbox.py) is claimed by one instance: the row
records who (``claimed_by``, :func:`instance_id`) and when (``claimed_at``); the instance renews ``claimed_at``
while it works on its rows, and only the holder marks them done. A row whose lease ran out (its instance died
or stalled for the whole lease) is taken again by any instance. A restarted process is a new instance: it
waits for its predecessor's leases like everyone else (the rows go out once, after the lease).

Keeping a lease while working: bot.domain.leases.renewing.
"""

from __future__ import annotations

import os
import secrets
import socket

__all__ = ["instance_id"]


def instance_id() -> str:
    """This process among the instances sharing a database: host, process id and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
