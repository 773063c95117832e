"""The last answer the API gave for each job, with its ETag, so that a status poll can ask "changed since?"
(``If-None-Match``) and reuse the answer on ``304 Not Modified``. Shared by every thread of the site, bounded."""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict


class EtagCache:
    """At most ``size`` (key → (etag, body)) entries, the least recently used dropped first."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._entries: OrderedDict[tuple, tuple[str, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def etag(self, key: tuple) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            return entry[0] if entry else None

    def body(self, key: tuple, etag: str) -> dict | None:
        """A copy of the body kept under ``etag`` (None when the entry has gone or changed meanwhile)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != etag:
                return None
            self._entries.move_to_end(key)
            return copy.deepcopy(entry[1])

    def put(self, key: tuple, etag: str, body: dict) -> None:
        with self._lock:
            self._entries[key] = (etag, copy.deepcopy(body))
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
