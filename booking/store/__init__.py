"""Storage of the booking backend behind a small protocol, with SQLite and PostgreSQL implementations.

No double booking is enforced by the database itself: every occupied time unit of a counter is one row of
``claims`` whose primary key is (meeting point, counter, unit start). Two bookings of the same unit cannot both
commit, whatever the number of processes.
"""

from __future__ import annotations

from booking.store.base import BookResult, Store
from booking.store.factory import open_store

__all__ = ["BookResult", "Store", "open_store"]
