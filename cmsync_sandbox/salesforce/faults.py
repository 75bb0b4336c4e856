"""Faults a test or the demo can inject: lock contention, an unavailable server, a spent daily API
allowance and short-lived tokens. Each can strike by rate (seeded, so runs repeat) or for the next N."""

import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    """Fault settings and the org's API usage; every method is thread-safe."""

    lock_rate: float = 0.0
    lock_next: int = 0
    unavailable_rate: float = 0.0
    unavailable_next: int = 0
    daily_api_limit: int = 100_000
    api_used: int = 0
    token_ttl: float = 7200.0
    random_seed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._random.seed(self.random_seed)

    def _strike(self, rate: float, next_name: str) -> bool:
        with self._lock:
            pending = getattr(self, next_name)
            if pending > 0:
                setattr(self, next_name, pending - 1)
                return True
            return rate > 0 and self._random.random() < rate

    def take_lock(self) -> bool:
        """Whether this record write fails with UNABLE_TO_LOCK_ROW (read without the lock while no lock fault
        is set, as for every record of a big write: a fault set meanwhile strikes from the next record)."""
        if not (self.lock_next or self.lock_rate):
            return False
        return self._strike(self.lock_rate, "lock_next")

    def take_unavailable(self) -> bool:
        """Whether this API call fails with 503."""
        return self._strike(self.unavailable_rate, "unavailable_next")

    def spend_api_call(self) -> bool:
        """Count one API request against the daily allowance; False when it is already spent."""
        with self._lock:
            if self.api_used >= self.daily_api_limit:
                return False
            self.api_used += 1
            return True

    def usage(self) -> tuple[int, int]:
        with self._lock:
            return self.api_used, self.daily_api_limit

    def update(self, changes: dict[str, Any]) -> None:
        """Apply settings by name (unknown names are a ValueError, so a typo in a test fails loudly)."""
        known = {item.name: item.type for item in fields(self) if not item.name.startswith("_")}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"fault {name!r} takes a number, not {value!r}")
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value if name in ("lock_rate", "unavailable_rate", "token_ttl") else int(value))
            if "random_seed" in changes:
                self._random.seed(self.random_seed)

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {item.name: getattr(self, item.name) for item in fields(self) if not item.name.startswith("_")}
