"""What a room hears of its server-side recording: events published on the media plane's
push subject (core NATS), which one gateway process relays to the room's SFU sockets, as it
relays the media nodes' own room events. Best effort: a push that cannot be sent is logged,
and the recording's status says the same to anyone who lists it."""

import logging

import msgspec
import nats.errors

from webinar_contracts import media as media_contract
from webinar_contracts.wire import encode_wire
from webinar_runtime.bus import Bus

log = logging.getLogger("recording.pushes")


class RoomPushes:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def push(self, tenant_id: str, room_id: str, event: str, data: msgspec.Struct) -> None:
        message = media_contract.MediaPush(
            tenant_id=tenant_id, room_id=room_id, event=event, data=msgspec.Raw(encode_wire(data))
        )
        try:
            await self.bus.nc.publish(media_contract.PUSH_SUBJECT, msgspec.json.encode(message))
        except nats.errors.Error as error:
            log.warning("room push not sent", extra={"event": event, "room_id": room_id, "reason": str(error)})
