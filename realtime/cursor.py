"""The opaque resume cursor handed to clients.

A cursor is ``B`` or ``B.p1.p2...``: every event of the subscription at a position up to ``B`` was
delivered, and so were the listed positions above ``B``. Pub/sub can deliver position 12 before a lost
position 11 is repaired; a cursor of just "12" would then skip 11 on resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_EXTRA_POSITIONS = 256


class InvalidCursor(ValueError):
    pass


@dataclass
class Cursor:
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
            self.extra = {p for p in self.extra if p > base}

    def encode(self) -> str:
        return ".".join([str(self.base), *map(str, sorted(self.extra))])

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        if not isinstance(text, str) or not text or len(text) > 8192:
            raise InvalidCursor("cursor must be a string returned by the server")
        try:
            numbers = [int(part) for part in text.split(".")]
        except ValueError:
            raise InvalidCursor("cursor is not one the server issued") from None
        if any(n < 0 for n in numbers):
            raise InvalidCursor("cursor is not one the server issued")
        return cls(base=numbers[0], extra={n for n in numbers[1:] if n > numbers[0]})
