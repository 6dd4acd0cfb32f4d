"""A byte-bounded LRU shared by the response cache, random-draw id pools and token checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache


class ByteLRU:
    """A byte-bounded LRU (cachetools), safe across threads; `sizeof` weighs an entry."""

    def __init__(self, max_bytes: int, sizeof: Callable[[Any], int]) -> None:
        self._entries: LRUCache = LRUCache(maxsize=max_bytes, getsizeof=sizeof)
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple, entry: Any) -> None:
        with self._lock:
            try:
                self._entries[key] = entry
            except ValueError:  # larger than the whole budget: use it, don't keep it
                pass

    @property
    def size(self) -> int:
        return int(self._entries.currsize)

    @property
    def max_bytes(self) -> int:
        return int(self._entries.maxsize)

    def __len__(self) -> int:
        return len(self._entries)
