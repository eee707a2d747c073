"""Token buckets, for bounding what one socket, or one account's sockets together, may ask of the server."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


# Subscribes (each a snapshot or a replay) shared by all of one account's sockets on a web process.
ACCOUNT_SUBSCRIBES_PER_SECOND, ACCOUNT_SUBSCRIBE_BURST = 2.0, 10.0


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
