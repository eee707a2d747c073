"""An event as the hub fans it out: decoded once, its frame built once but for a few bytes per socket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from eventlog.vocabulary import SHOWING, WITHDRAWN
from realtime.groups import cell_group

if TYPE_CHECKING:
    from eventlog.selectors import LogEvent


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One log event, ready for every socket of this process.

    ``head`` is the contract's event frame up to the recipient's distance; a socket's frame is
    ``head`` + its distance + its cursor, so the envelope is encoded once per process, not per socket.
    ``left_head`` is the same as a withdrawal, for the sockets a moved deal has left
    (``Subscription.left``); only events with a footprint from before the change have one.
    """

    position: int
    groups: tuple[str, ...]
    footprints: list[list[Any]]
    deal_id: int
    market_id: int
    type: str
    head: str
    left_head: str | None

    @classmethod
    def build(
        cls, *, position: int, cells: list[str], footprints: list[list[Any]], deal_id: int, market_id: int,
        event_type: str, envelope: bytes,
    ) -> "LiveEvent":
        head = '{"type":"event","event":' + envelope.decode() + ',"distance_km":'
        left_head = None
        if len(footprints) > 1 and event_type in SHOWING:
            left_envelope = orjson.dumps({**orjson.loads(envelope), "type": WITHDRAWN})
            left_head = '{"type":"event","event":' + left_envelope.decode() + ',"distance_km":'
        return cls(
            position, tuple(cell_group(c) for c in cells), footprints, deal_id, market_id, event_type, head, left_head
        )

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> "LiveEvent":
        """From what the relay publishes (``realtime.relay.layer_message``)."""
        deal_id, market_id, event_type = message["deal"]
        return cls.build(
            position=message["position"], cells=message["cells"], footprints=message["footprints"],
            deal_id=deal_id, market_id=market_id, event_type=event_type, envelope=message["envelope"],
        )

    @classmethod
    def from_log(cls, event: "LogEvent") -> "LiveEvent":
        """From a row of the log (replay and repair)."""
        return cls.build(
            position=event.position, cells=event.cells, footprints=event.footprints, deal_id=event.deal_id,
            market_id=event.market_id, event_type=event.type, envelope=orjson.dumps(event.envelope),
        )

    @property
    def reaches(self) -> bool:
        """Whether a shopper who gets this event has been shown the deal (counted as reach)."""
        return self.type in SHOWING

    def frame(self, distance_km: float, cursor: str, *, left: bool = False) -> str:
        # A cursor is digits, dots and a dash, and a finite float's repr is valid JSON: nothing to escape.
        head = self.left_head if left else self.head
        return f'{head}{distance_km!r},"cursor":"{cursor}"}}'
