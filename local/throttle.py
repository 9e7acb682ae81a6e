"""A token bucket per API key: API Gateway's usage-plan throttle (steady rate, burst capacity)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_second: float
    burst: int
    _tokens: float = field(init=False)
    _updated: float = field(default_factory=time.monotonic, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_second)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


class Throttle:
    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: str, *, rate_per_second: float, burst: int) -> bool:
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None or (bucket.rate_per_second, bucket.burst) != (rate_per_second, burst):
                bucket = self._buckets[key_id] = TokenBucket(rate_per_second, burst)
        return bucket.take()
