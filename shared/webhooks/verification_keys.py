"""Verifies a request with a project's credentials secrets (Secrets Manager, cached per container).

A signature that fails with a cached secret may have been made with a rotated one, so the secret
is read again fresh, unless it was read less than a minute ago: a flood of forged requests must
not turn into a GetSecretValue call per request (cost, and throttling of the engine's other readers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from shared.processing.credentials import SecretReader
from shared.processing.errors import CredentialsMissing, SecretsUnavailable
from shared.webhooks.refusals import DependencyUnavailable

FRESH_READ_INTERVAL_SECONDS = 60.0


class KeyUnusable(Exception):
    """A secret holds no usable verification key; the text names the field, never a value."""


@dataclass
class Verdict:
    verified: bool
    # Why a secret could not take part (missing, not the expected shape, no key): safe to log.
    problems: list[str] = field(default_factory=list)


class _Result(Enum):
    VERIFIED = "verified"
    FAILED_FROM_CACHE = "failed with a cached value"
    FAILED = "failed"


class VerificationKeys:
    def __init__(
        self,
        reader: SecretReader,
        *,
        fresh_read_interval_seconds: float = FRESH_READ_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._reader = reader
        self._interval = fresh_read_interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last_reads: dict[str, float] = {}

    def verify(self, secret_ids: Sequence[str], shape: type[Any], verifies: Callable[[Any], bool]) -> Verdict:
        """Whether ``verifies`` accepts the credentials (read as ``shape``) of one of ``secret_ids``.

        ``DependencyUnavailable`` when Secrets Manager failed and no other secret verified: the
        unread one might have, so the provider should re-post rather than be told "forged".
        """
        attempts = _Attempts(self._reader, shape, verifies, self._read_now)
        stale: list[str] = []
        for secret_id in secret_ids:
            result = attempts.run(secret_id, fresh=False)
            if result is _Result.VERIFIED:
                return Verdict(verified=True)
            if result is _Result.FAILED_FROM_CACHE and self._may_read_fresh(secret_id):
                stale.append(secret_id)
        for secret_id in stale:
            if attempts.run(secret_id, fresh=True) is _Result.VERIFIED:
                return Verdict(verified=True)
        if attempts.unavailable:
            raise DependencyUnavailable(f"Secrets Manager failed reading {', '.join(attempts.unavailable)}")
        return Verdict(verified=False, problems=attempts.problems)

    def _may_read_fresh(self, secret_id: str) -> bool:
        with self._lock:
            last = self._last_reads.get(secret_id)
        return last is None or self._clock() - last >= self._interval

    def _read_now(self, secret_id: str) -> None:
        with self._lock:
            self._last_reads[secret_id] = self._clock()


class _Attempts:
    def __init__(
        self,
        reader: SecretReader,
        shape: type[Any],
        verifies: Callable[[Any], bool],
        read_now: Callable[[str], None],
    ):
        self._reader = reader
        self._shape = shape
        self._verifies = verifies
        self._read_now = read_now
        self.problems: list[str] = []
        self.unavailable: list[str] = []

    def run(self, secret_id: str, *, fresh: bool) -> _Result:
        try:
            fetched = self._reader.read(secret_id, self._shape, fresh=fresh)
        except SecretsUnavailable:
            self.unavailable.append(secret_id)
            return _Result.FAILED
        except CredentialsMissing as error:
            self.problems.append(error.reason)
            return _Result.FAILED
        if not fetched.from_cache:
            self._read_now(secret_id)
        try:
            if self._verifies(fetched.value):
                return _Result.VERIFIED
        except KeyUnusable as error:
            self.problems.append(f"{secret_id}: {error}")
        return _Result.FAILED_FROM_CACHE if fetched.from_cache else _Result.FAILED
