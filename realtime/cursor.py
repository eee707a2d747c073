"""The opaque resume cursor handed to clients.

A cursor is ``E-B`` or ``E-B.p1.p2...``: ``E`` is the epoch of the log it came from
(``eventlog.epoch``); every event of the subscription at a position up to ``B`` was delivered, and
so were the listed positions above ``B``. Pub/sub can deliver position 12 before a lost position 11
is repaired; a cursor of just "12" would then skip 11 on resume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_EXTRA_POSITIONS = 256
# Only what ``encode`` writes: ASCII digits (no signs, spaces, underscores or other scripts' digits).
# A cursor from before epochs (no "E-") parses with no epoch, so it resumes from a fresh snapshot.
CURSOR_PATTERN = re.compile(r"(?:([0-9a-f]{1,16})-)?([0-9]{1,19})((?:\.[0-9]{1,19})*)", re.ASCII)


class InvalidCursor(ValueError):
    pass


@dataclass(slots=True)
class Cursor:
    epoch: str
    base: int = 0
    extra: set[int] = field(default_factory=set)

    def seen(self, position: int) -> bool:
        return position <= self.base or position in self.extra

    def add(self, position: int) -> None:
        if position > self.base:
            self.extra.add(position)
        if len(self.extra) > MAX_EXTRA_POSITIONS:
            # Clients drop repeats by event id, so collapsing only risks a harmless resend.
            self.advance(min(self.extra))

    def advance(self, base: int) -> None:
        """Everything up to ``base`` has been handled."""
        if base > self.base:
            self.base = base
            if self.extra:
                self.extra = {p for p in self.extra if p > base}

    def encode(self) -> str:
        # Every frame a socket is sent carries its cursor; most have no or one extra position.
        if not self.extra:
            positions = str(self.base)
        elif len(self.extra) == 1:
            positions = f"{self.base}.{next(iter(self.extra))}"
        else:
            positions = ".".join([str(self.base), *map(str, sorted(self.extra))])
        return f"{self.epoch}-{positions}" if self.epoch else positions

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        if not isinstance(text, str) or not text or len(text) > 8192:
            raise InvalidCursor("cursor must be a string returned by the server")
        match = CURSOR_PATTERN.fullmatch(text)
        if match is None:
            raise InvalidCursor("cursor is not one the server issued")
        epoch, base, extras = match.group(1) or "", int(match.group(2)), match.group(3)
        extra = {int(part) for part in extras.split(".")[1:]}
        return cls(epoch=epoch, base=base, extra={n for n in extra if n > base})
