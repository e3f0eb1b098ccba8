"""What the SFU objects share about their life: why they close, and how they tell
whoever holds them that their state changed."""

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=StrEnum)


class CloseReason(StrEnum):
    """Why an object closed; carried down the ownership tree to every child it closes."""

    REQUESTED = "requested"  # its owner asked (exitRoom, producerClosed, an API call)
    ROOM_ENDED = "room ended"  # the host ended the webinar (room:end)
    WORKER_CLOSED = "worker closed"
    ROUTER_CLOSED = "router closed"
    TRANSPORT_CLOSED = "transport closed"
    PRODUCER_CLOSED = "producer closed"
    ICE_CONSENT_EXPIRED = "ice consent expired"  # the peer stopped sending connectivity checks
    DTLS_FAILED = "dtls failed"
    DTLS_CLOSED = "dtls closed"  # the peer closed DTLS (close_notify)


StateListener = Callable[[S, CloseReason | None], None]


class StateChanges(Generic[S]):
    """Listeners of one object's state; a listener that raises is logged and skipped,
    so one bad listener cannot stop a close cascading."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._listeners: list[StateListener[S]] = []

    def add(self, listener: StateListener[S]) -> None:
        self._listeners.append(listener)

    def emit(self, state: S, reason: CloseReason | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(state, reason)
            except Exception:
                logger.exception("%s: a state listener failed", self._owner)

    def clear(self) -> None:
        self._listeners.clear()
