"""The seed's SFU socket: its events on the default namespace of /socket.io, each relayed
over the bus to the media node holding the room and acknowledged with the node's answer
in the shapes of the seed (research/seed-sfu-protocol.md), or `{error: "..."}`. The room
controls (co-hosts, mute, remove, pause, screen share) go to the node too; the chat
(`sendMessage`, `deleteMessage`, the `join` history) goes to the meetings service, with
the sender's name and role from the node. The seed's "Meet APIs socket" has the same base
URL, so its `room.join` is served here as well, joining the same room as `join`.
Every event, payload and acknowledgement: docs/realtime-events.md.

A viewer link's guest (a socket that connected with a room ticket) opens, joins and
`room.join`s its ticket's room only, and is a guest there (a viewer until approved). The
host's `room:end` ends the webinar: the node tells the room and drops everyone; a room
made with POST /room/create then stays ended (the meetings service keeps when), and every
way back in answers "this webinar has ended".

Every acknowledgement carries a value (the seed's clients read `data.error` from each),
and a missing payload is an empty one. A socket is in one room at a time; which room and
which node it is on are kept here, per socket, after `join`, until the socket leaves or
the node says it no longer has the socket in the room (the host removed it, ended the
webinar, or its browser went). What nodes push (new producers, closed consumers, peers
joining and leaving) arrives on one NATS subject that the gateway processes share as a
queue group, so each push is relayed once, then emitted to the room's Socket.IO room,
which the client manager fans out to every gateway process.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import socketio
from aiohttp import web
from nats.aio.msg import Msg

from gateway.push_relay import relay_pushes
from gateway.sockets import check_room_ticket, session_context
from webinar_contracts import Conflict, Forbidden, InvalidInput, NotFound, RequestContext, ServiceError, Unavailable
from webinar_contracts import media as contract
from webinar_contracts import meetings as meetings_contract
from webinar_contracts import recording as recording_contract
from webinar_contracts.media import (
    DtlsParameters,
    MediaKind,
    PeerInfo,
    RoomState,
    RtpCapabilities,
    RtpParameters,
)
from webinar_contracts.validation import convert
from webinar_contracts.wire import to_wire
from webinar_runtime.bus import Bus

log = logging.getLogger("gateway.sfu")

PUSH_QUEUE_GROUP = "gateway-sfu"
NOT_IN_A_ROOM = "not currently in a room"
# A join waits this long at most to learn whether the room is being recorded.
RECORDING_STATE_TIMEOUT = 2.0
# Chat events the gateway emits itself (the node emits the others).
NEW_MESSAGE = "newMessage"
MESSAGE_DELETED = "messageDeleted"

# --- what clients send (the seed's names) ---


class CreateRoomPayload(msgspec.Struct):
    room_id: str


class JoinPayload(msgspec.Struct):
    room_id: str
    name: str = ""


class CreateTransportPayload(msgspec.Struct):
    force_tcp: bool = msgspec.field(name="forceTcp", default=False)


class ConnectTransportPayload(msgspec.Struct):
    transport_id: str
    dtls_parameters: DtlsParameters = msgspec.field(name="dtlsParameters")


class ProducePayload(msgspec.Struct):
    producer_transport_id: str = msgspec.field(name="producerTransportId")
    kind: MediaKind
    rtp_parameters: RtpParameters = msgspec.field(name="rtpParameters")
    app_data: dict[str, Any] = msgspec.field(name="appData", default_factory=dict)


class ConsumePayload(msgspec.Struct):
    consumer_transport_id: str = msgspec.field(name="consumerTransportId")
    producer_id: str = msgspec.field(name="producerId")
    rtp_capabilities: RtpCapabilities | None = msgspec.field(name="rtpCapabilities", default=None)


class ResumePayload(msgspec.Struct):
    consumer_id: str | None = None
    consumer_id_camel: str | None = msgspec.field(name="consumerId", default=None)


class ProducerClosedPayload(msgspec.Struct):
    producer_id: str


class MeetJoinPayload(msgspec.Struct):
    """`room.join` of the Meet socket: the room by `room_id` (or the REST API's `roomId`)."""

    room_id: str | None = None
    room_id_camel: str | None = msgspec.field(name="roomId", default=None)
    name: str = ""


class FileReference(msgspec.Struct):
    filename: str


class SendMessagePayload(msgspec.Struct):
    """`sendMessage`. The sender's name is the one it joined with (a `name` here is not
    trusted); `room_id`, when sent, must be the joined room's."""

    message: str = ""
    room_id: str | None = None
    file: FileReference | str | None = None  # a file of the room: `{filename}` or its stored name


class DeleteMessagePayload(msgspec.Struct):
    id: str | None = None
    message_id: str | None = None


class TargetPayload(msgspec.Struct):
    """A control naming another peer of the room (its socket id)."""

    peer_id: str


class CohostRespondPayload(msgspec.Struct):
    peer_id: str
    approved: bool


class VideoPayload(msgspec.Struct):
    producer_id: str | None = None


@dataclass(frozen=True)
class Membership:
    """The room a socket joined, and the node holding it."""

    tenant_id: str
    room_id: str
    node_id: str

    @property
    def socket_room(self) -> str:
        return socket_room(self.tenant_id, self.room_id)


def socket_room(tenant_id: str, room_id: str) -> str:
    """The Socket.IO room of an SFU room (rooms are per tenant)."""
    return f"sfu:{tenant_id}:{room_id}"


def room_json(state: RoomState) -> dict[str, Any]:
    """The room as the seed's clients get it: `peers` is a JSON string of `[socket id, peer]`
    pairs, as the mediasoup rooms sample the seed derives from serialises its peer map; then
    who shares the screen, whose camera is paused or microphone muted, who asks to co-host."""
    peers = [[peer.id, {"id": peer.id, "name": peer.name, "role": peer.role}] for peer in state.peers]
    return {
        "id": state.id,
        "type": state.type,
        "peers": json.dumps(peers, separators=(",", ":")),
        "screenShare": to_wire(state.screen_share),
        "videoPaused": state.video_paused,
        "audioMuted": state.audio_muted,
        "cohostRequests": [{"peer_id": peer.id, "name": peer.name} for peer in state.cohost_requests],
    }


Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class SfuSocket:
    def __init__(self, server: socketio.AsyncServer, bus: Bus) -> None:
        self.server = server
        self.bus = bus
        self._members: dict[str, Membership] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # --- wiring ---

    def register(self) -> None:
        events: dict[str, Handler] = {
            "createRoom": self.create_room,
            "join": self.join,
            "getProducers": self.get_producers,
            "getRouterRtpCapabilities": self.get_router_rtp_capabilities,
            "createWebRtcTransport": self.create_webrtc_transport,
            "connectTransport": self.connect_transport,
            "produce": self.produce,
            "consume": self.consume,
            "resume": self.resume,
            "getMyRoomInfo": self.get_my_room_info,
            "producerClosed": self.producer_closed,
            "exitRoom": self.exit_room,
            # chat
            "sendMessage": self.send_message,
            "deleteMessage": self.delete_message,
            # roles and controls
            "cohost:request": self.request_cohost,
            "cohost:respond": self.respond_cohost,
            "cohost:demote": self.demote_cohost,
            "participant:mute": self.mute_participant,
            "participant:remove": self.remove_participant,
            "videoPaused": self.video_paused,
            "videoResumed": self.video_resumed,
            "screen:shared": self.screen_shared,
            "screen:stopped": self.screen_stopped,
            "room:end": self.end_room,
            # server-side recording of the room (the host's)
            "recording:start": self.start_recording,
            "recording:stop": self.stop_recording,
            # the Meet APIs socket
            "room.join": self.meet_join,
        }
        for event, handler in events.items():
            self.server.on(event, _acknowledged(event, handler))
        self.server.on("disconnect", self.disconnected)

    # --- helpers ---

    async def _context(self, sid: str) -> RequestContext:
        session = await self.server.get_session(sid)
        return session_context(session)

    def _membership(self, sid: str) -> Membership:
        membership = self._members.get(sid)
        if membership is None:
            raise NotFound(f"{NOT_IN_A_ROOM}: join one first", field="room_id")
        return membership

    def _lock(self, sid: str) -> asyncio.Lock:
        return self._locks.setdefault(sid, asyncio.Lock())

    async def _ask_node(
        self, sid: str, endpoint: "contract.NodeEndpoint[Any, Any]", build: Callable[[Membership], msgspec.Struct]
    ) -> Any:
        membership = self._membership(sid)
        try:
            return await self.bus.request(
                endpoint.at(membership.node_id), build(membership), context=await self._context(sid)
            )
        except NotFound as error:
            if error.field != "room_id":
                raise
            # The node no longer has the socket in the room (the host removed it or ended the
            # webinar, or its browser went): it is in no room here either, as if it never joined.
            await self._forget(sid, membership)
            raise NotFound(f"{NOT_IN_A_ROOM}: join one first", field="room_id") from None

    async def _forget(self, sid: str, membership: Membership) -> None:
        if self._members.get(sid) is membership:
            del self._members[sid]
        with contextlib.suppress(KeyError, ValueError):
            await self.server.leave_room(sid, membership.socket_room)

    async def _guest(self, sid: str, room_id: str) -> bool:
        """Whether the socket is a viewer link's guest; refused when the link is for another room."""
        session = await self.server.get_session(sid)
        check_room_ticket(session, room_id)
        return session.get("room_ticket") is not None

    # --- events ---

    async def create_room(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, CreateRoomPayload)
        guest = await self._guest(sid, request.room_id)
        context = await self._context(sid)
        try:
            created = await self._place_and_create(request.room_id, sid, context, guest=guest)
        except (Conflict, Unavailable):
            # The room moved, or its node went, between placing and creating: place it again.
            created = await self._place_and_create(request.room_id, sid, context, guest=guest)
        return request.room_id if created else "already exists"

    async def _place_and_create(self, room_id: str, sid: str, context: RequestContext, *, guest: bool) -> bool:
        placement = await self.bus.request(
            contract.PLACE_ROOM, contract.PlaceRoom(room_id=room_id, create=True), context=context
        )
        created = await self.bus.request(
            contract.NODE_CREATE_ROOM.at(placement.node_id),
            contract.CreateRoom(room_id=room_id, peer_id=sid, guest=guest),
            context=context,
        )
        return created.created

    async def _room_missing(self, room_id: str, context: RequestContext) -> ServiceError:
        """Why a room is open nowhere: its host ended it (the meetings service keeps when), or
        nobody opened it."""
        try:
            details = await self.bus.request(
                meetings_contract.GET_ROOM, meetings_contract.GetRoom(room_id=room_id), context=context
            )
        except ServiceError as error:
            if not isinstance(error, NotFound):
                log.warning("could not ask whether a room ended", extra={"room_id": room_id, "error": error.message})
            details = None
        if details is not None and details.ended_at is not None:
            return Forbidden(contract.WEBINAR_ENDED, field="room_id")
        return NotFound("room does not exist", field="room_id")

    async def join(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, JoinPayload)
        guest = await self._guest(sid, request.room_id)
        context = await self._context(sid)
        async with self._lock(sid):
            if sid in self._members:
                await self._leave(sid)
            try:
                placement = await self.bus.request(
                    contract.PLACE_ROOM, contract.PlaceRoom(room_id=request.room_id), context=context
                )
            except NotFound:
                raise await self._room_missing(request.room_id, context) from None
            session = await self.server.get_session(sid)
            join = contract.JoinRoom(
                room_id=request.room_id,
                peer_id=sid,
                name=request.name,
                origin_host=session.get("origin_host") or "",
                client_ip=session.get("client_ip"),
                guest=guest,
            )
            try:
                state = await self.bus.request(contract.NODE_JOIN.at(placement.node_id), join, context=context)
            except Unavailable:
                # The room's node went between placing and joining (its peers went with it):
                # open the room again where placement now puts it, and join there.
                await self._place_and_create(request.room_id, sid, context, guest=guest)
                placement = await self.bus.request(
                    contract.PLACE_ROOM, contract.PlaceRoom(room_id=request.room_id), context=context
                )
                state = await self.bus.request(contract.NODE_JOIN.at(placement.node_id), join, context=context)
            except NotFound as error:
                if error.field != "room_id":
                    raise
                # It closed between placing and joining (emptied, or its host ended it).
                raise await self._room_missing(request.room_id, context) from None
            membership = Membership(str(context.tenant_id), request.room_id, placement.node_id)
            self._members[sid] = membership
            await self.server.enter_room(sid, membership.socket_room)
        # The tenant's plan, so a client knows which features it has (the SDK's media effects);
        # the peer's key, which the page's whiteboard socket presents to act in the peer's role;
        # the room's recording, if one runs (a page must say so, as those present were told).
        chat_history, recording = await asyncio.gather(
            self._chat_history(membership, context), self._recording(membership, context)
        )
        return {
            "room": room_json(state),
            "chatHistory": chat_history,
            "plan": context.plan,
            "peerKey": state.peer_key,
            "recording": recording,
        }

    async def _chat_history(self, membership: Membership, context: RequestContext) -> list[Any]:
        """The room's chat, oldest first. The peer is in the room by now: a chat that cannot
        be read leaves the history empty (logged) rather than the join half done."""
        try:
            history = await self.bus.request(
                meetings_contract.GET_CHAT_HISTORY,
                meetings_contract.GetChatHistory(room_id=membership.room_id),
                context=context,
            )
        except ServiceError as error:
            log.warning("chat history unavailable", extra={"room_id": membership.room_id, "error": error.message})
            return []
        return list(to_wire(history.messages))

    async def _recording(self, membership: Membership, context: RequestContext) -> dict[str, Any] | None:
        """The room's server-side recording while it records, as `recording:started` said it;
        None when none runs, or (logged) when the recording service cannot say."""
        try:
            current = await self.bus.request(
                recording_contract.ROOM_RECORDING,
                recording_contract.RoomRecordingQuery(room_id=membership.room_id),
                context=context,
                timeout=RECORDING_STATE_TIMEOUT,
            )
        except ServiceError as error:
            log.warning("recording state unavailable", extra={"room_id": membership.room_id, "error": error.message})
            return None
        return None if current.recording is None else dict(to_wire(current.recording))

    async def meet_join(self, sid: str, payload: dict[str, Any]) -> Any:
        """`room.join` (the Meet APIs socket): join the session room, opening it when nobody
        has yet; the same room, peers and presence as the SFU socket's `join`."""
        request = convert(payload, MeetJoinPayload)
        room_id = request.room_id or request.room_id_camel
        if not room_id:
            raise InvalidInput("room_id is required", field="room_id")
        await self.create_room(sid, {"room_id": room_id})
        return await self.join(sid, {"room_id": room_id, "name": request.name})

    async def get_producers(self, sid: str, payload: dict[str, Any]) -> Any:
        listing = await self._ask_node(
            sid, contract.NODE_GET_PRODUCERS, lambda m: contract.PeerCall(room_id=m.room_id, peer_id=sid)
        )
        producers = to_wire(listing.producers)
        await self.server.emit(contract.NEW_PRODUCERS, producers, to=sid)
        return producers

    async def get_router_rtp_capabilities(self, sid: str, payload: dict[str, Any]) -> Any:
        capabilities = await self._ask_node(
            sid, contract.NODE_RTP_CAPABILITIES, lambda m: contract.PeerCall(room_id=m.room_id, peer_id=sid)
        )
        return to_wire(capabilities)

    async def create_webrtc_transport(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, CreateTransportPayload)
        created = await self._ask_node(
            sid,
            contract.NODE_CREATE_TRANSPORT,
            lambda m: contract.CreateTransport(room_id=m.room_id, peer_id=sid, force_tcp=request.force_tcp),
        )
        return to_wire(created)

    async def connect_transport(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, ConnectTransportPayload)
        await self._ask_node(
            sid,
            contract.NODE_CONNECT_TRANSPORT,
            lambda m: contract.ConnectTransport(
                room_id=m.room_id,
                peer_id=sid,
                transport_id=request.transport_id,
                dtls_parameters=request.dtls_parameters,
            ),
        )
        return "success"

    async def produce(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, ProducePayload)
        produced = await self._ask_node(
            sid,
            contract.NODE_PRODUCE,
            lambda m: contract.Produce(
                room_id=m.room_id,
                peer_id=sid,
                transport_id=request.producer_transport_id,
                kind=request.kind,
                rtp_parameters=request.rtp_parameters,
                app_data=request.app_data,
            ),
        )
        return {"producer_id": produced.producer_id}

    async def consume(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, ConsumePayload)
        consumed = await self._ask_node(
            sid,
            contract.NODE_CONSUME,
            lambda m: contract.Consume(
                room_id=m.room_id,
                peer_id=sid,
                transport_id=request.consumer_transport_id,
                producer_id=request.producer_id,
                rtp_capabilities=request.rtp_capabilities,
            ),
        )
        return to_wire(consumed)

    async def resume(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, ResumePayload)
        consumer_id = request.consumer_id or request.consumer_id_camel
        if not consumer_id:
            raise InvalidInput("consumer_id is required", field="consumer_id")
        await self._ask_node(
            sid,
            contract.NODE_RESUME_CONSUMER,
            lambda m: contract.ResumeConsumer(room_id=m.room_id, peer_id=sid, consumer_id=consumer_id),
        )
        return "success"

    async def get_my_room_info(self, sid: str, payload: dict[str, Any]) -> Any:
        state = await self._ask_node(
            sid, contract.NODE_ROOM_INFO, lambda m: contract.PeerCall(room_id=m.room_id, peer_id=sid)
        )
        return room_json(state)

    async def producer_closed(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, ProducerClosedPayload)
        await self._ask_node(
            sid,
            contract.NODE_CLOSE_PRODUCER,
            lambda m: contract.CloseProducer(room_id=m.room_id, peer_id=sid, producer_id=request.producer_id),
        )
        return "success"

    # --- chat (the meetings service keeps it) ---

    async def _peer(self, sid: str) -> PeerInfo:
        """The socket's peer as the node holding its room knows it (name, role)."""
        peer: PeerInfo = await self._ask_node(
            sid, contract.NODE_PEER_INFO, lambda m: contract.PeerCall(room_id=m.room_id, peer_id=sid)
        )
        return peer

    async def send_message(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, SendMessagePayload)
        membership = self._membership(sid)
        if request.room_id is not None and request.room_id != membership.room_id:
            raise InvalidInput(f"you are in room {membership.room_id}, not {request.room_id}", field="room_id")
        peer = await self._peer(sid)
        context = await self._context(sid)
        filename = request.file.filename if isinstance(request.file, FileReference) else request.file
        message = await self.bus.request(
            meetings_contract.SEND_CHAT_MESSAGE,
            meetings_contract.SendChatMessage(
                room_id=membership.room_id,
                peer_id=sid,
                sender_key=f"user:{context.user_id}" if context.user_id else f"socket:{sid}",
                name=peer.name,
                message=request.message,
                filename=filename or None,
            ),
            context=context,
        )
        data = to_wire(message)
        await self.server.emit(NEW_MESSAGE, data, room=membership.socket_room, skip_sid=sid)
        return data

    async def delete_message(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, DeleteMessagePayload)
        message_id = request.id or request.message_id
        if not message_id:
            raise InvalidInput("id is required", field="id")
        membership = self._membership(sid)
        peer = await self._peer(sid)
        deleted = await self.bus.request(
            meetings_contract.DELETE_CHAT_MESSAGE,
            meetings_contract.DeleteChatMessage(room_id=membership.room_id, message_id=message_id, role=peer.role),
            context=await self._context(sid),
        )
        await self.server.emit(MESSAGE_DELETED, to_wire(deleted), room=membership.socket_room)
        return "success"

    # --- roles and controls (the node holding the room decides and tells the room) ---

    async def request_cohost(self, sid: str, payload: dict[str, Any]) -> Any:
        await self._ask_node(
            sid, contract.NODE_REQUEST_COHOST, lambda m: contract.PeerCall(room_id=m.room_id, peer_id=sid)
        )
        return "success"

    async def respond_cohost(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, CohostRespondPayload)
        await self._ask_node(
            sid,
            contract.NODE_ANSWER_COHOST,
            lambda m: contract.CohostAnswer(
                room_id=m.room_id, peer_id=sid, target_peer_id=request.peer_id, approved=request.approved
            ),
        )
        return "success"

    async def _act_on_peer(self, sid: str, payload: dict[str, Any], endpoint: "contract.NodeEndpoint[Any, Any]") -> Any:
        request = convert(payload, TargetPayload)
        return await self._ask_node(
            sid,
            endpoint,
            lambda m: contract.PeerAction(room_id=m.room_id, peer_id=sid, target_peer_id=request.peer_id),
        )

    async def demote_cohost(self, sid: str, payload: dict[str, Any]) -> Any:
        await self._act_on_peer(sid, payload, contract.NODE_DEMOTE_COHOST)
        return "success"

    async def mute_participant(self, sid: str, payload: dict[str, Any]) -> Any:
        return to_wire(await self._act_on_peer(sid, payload, contract.NODE_MUTE_PEER))

    async def remove_participant(self, sid: str, payload: dict[str, Any]) -> Any:
        await self._act_on_peer(sid, payload, contract.NODE_REMOVE_PEER)
        return "success"

    async def _pause_video(self, sid: str, payload: dict[str, Any], *, paused: bool) -> Any:
        request = convert(payload, VideoPayload)
        changed = await self._ask_node(
            sid,
            contract.NODE_PAUSE_VIDEO,
            lambda m: contract.PauseVideo(
                room_id=m.room_id, peer_id=sid, paused=paused, producer_id=request.producer_id
            ),
        )
        return to_wire(changed)

    async def video_paused(self, sid: str, payload: dict[str, Any]) -> Any:
        return await self._pause_video(sid, payload, paused=True)

    async def video_resumed(self, sid: str, payload: dict[str, Any]) -> Any:
        return await self._pause_video(sid, payload, paused=False)

    async def screen_shared(self, sid: str, payload: dict[str, Any]) -> Any:
        """The room heard `screen:shared` when the screen producer was made; a client that
        says so too is told whether it does share."""
        share = await self._ask_node(
            sid, contract.NODE_SCREEN_SHARE, lambda m: contract.PeerCall(room_id=m.room_id, peer_id=sid)
        )
        return to_wire(share)

    async def screen_stopped(self, sid: str, payload: dict[str, Any]) -> Any:
        """Stop the sender's screen share (its producer closes; the room hears `screen:stopped`)."""
        share = await self._ask_node(
            sid, contract.NODE_STOP_SCREEN, lambda m: contract.PeerCall(room_id=m.room_id, peer_id=sid)
        )
        return to_wire(share)

    async def end_room(self, sid: str, payload: dict[str, Any]) -> Any:
        """`room:end` (the host's): the node records the end, tells the room `room:ended`, drops
        every peer and closes the room; the relayed push then takes every socket out of it."""
        await self._ask_node(sid, contract.NODE_END_ROOM, lambda m: contract.PeerCall(room_id=m.room_id, peer_id=sid))
        membership = self._members.get(sid)
        if membership is not None:
            # Out of the room now; its Socket.IO room is left once `room:ended` is relayed.
            del self._members[sid]
            await self._keep_chat(sid, membership, await self._context(sid))
        return "success"

    async def _room_recording(self, sid: str, start: bool) -> Any:
        """`recording:start` / `recording:stop`: the host records the room on the server; the
        recording service tells the room (`recording:started`, `recording:stopped`)."""
        membership = self._membership(sid)
        peer = await self._peer(sid)
        if peer.role != "host":
            raise Forbidden("only the room's host may record it", field="role")
        context = await self._context(sid)
        if start:
            room_id, name = membership.room_id, peer.name
            begin = recording_contract.StartRoomRecording(room_id=room_id, user_name=name, room_host=True)
            answer = await self.bus.request(recording_contract.START_ROOM, begin, context=context)
        else:
            end = recording_contract.StopRoomRecording(room_id=membership.room_id, room_host=True)
            answer = await self.bus.request(recording_contract.STOP_ROOM, end, context=context)
        return to_wire(answer)

    async def start_recording(self, sid: str, payload: dict[str, Any]) -> Any:
        return await self._room_recording(sid, start=True)

    async def stop_recording(self, sid: str, payload: dict[str, Any]) -> Any:
        return await self._room_recording(sid, start=False)

    async def exit_room(self, sid: str, payload: dict[str, Any]) -> Any:
        async with self._lock(sid):
            if sid not in self._members or not await self._leave(sid):
                raise NotFound(NOT_IN_A_ROOM, field="room_id")
        return "successfully exited room"

    async def _leave(self, sid: str) -> bool:
        """Take the socket out of its room here and on the node; False when the node had no
        such peer (the host removed it or ended the room, or its browser went). The socket is
        out of the room whatever the node says: a node that lost the peer, or died, holds nothing."""
        membership = self._members.pop(sid)
        with contextlib.suppress(KeyError, ValueError):
            await self.server.leave_room(sid, membership.socket_room)
        context = await self._context(sid)
        was_in = True
        try:
            await self.bus.request(
                contract.NODE_EXIT.at(membership.node_id),
                contract.PeerCall(room_id=membership.room_id, peer_id=sid),
                context=context,
            )
        except NotFound as error:
            was_in = False
            log.info("peer left a room its node no longer had it in", extra={"sid": sid, "reason": error.message})
        except Unavailable as error:
            log.info("peer left a room whose node is gone", extra={"sid": sid, "reason": error.message})
        await self._keep_chat(sid, membership, context)
        return was_in

    async def _keep_chat(self, sid: str, membership: Membership, context: RequestContext) -> None:
        # A leave (or the end) is the room's activity: its chat is kept for the retention period from now.
        try:
            await self.bus.request(
                meetings_contract.KEEP_CHAT, meetings_contract.KeepChat(room_id=membership.room_id), context=context
            )
        except ServiceError as error:
            log.warning("could not extend the chat's retention", extra={"sid": sid, "error": error.message})

    async def disconnected(self, sid: str, reason: Any = None) -> None:
        """A socket that goes leaves its room, as `exitRoom` would."""
        try:
            async with self._lock(sid):
                if sid in self._members:
                    await self._leave(sid)
        except ServiceError as error:
            log.warning("leaving the room of a disconnected socket failed", extra={"sid": sid, "error": error.message})
        finally:
            self._locks.pop(sid, None)
            self._members.pop(sid, None)

    # --- pushes from the nodes ---

    async def relay_push(self, msg: Msg) -> None:
        try:
            push = msgspec.json.decode(msg.data, type=contract.MediaPush)
            data = msgspec.json.decode(push.data)
        except msgspec.MsgspecError:
            log.warning("unreadable media push dropped")
            return
        room = socket_room(push.tenant_id, push.room_id)
        try:
            if push.leave_peer is not None:
                await self.server.leave_room(push.leave_peer, room)
            if push.to_peer is not None:
                await self.server.emit(push.event, data, to=push.to_peer)
            else:
                await self.server.emit(push.event, data, room=room, skip_sid=push.skip_peer)
            if push.room_closed:
                # Told: now nobody hears the room (in every gateway process, after the emit).
                await self.server.close_room(room)
        except Exception:
            log.exception("relaying a media push failed", extra={"event": push.event})


def _acknowledged(event: str, handler: Handler) -> Callable[..., Awaitable[Any]]:
    """Run `handler` with the payload (absent: empty) and turn a refusal into `{error}`;
    the acknowledgement always carries a value."""

    async def on_event(sid: str, payload: Any = None) -> Any:
        if payload is None or payload == []:
            payload = {}
        if not isinstance(payload, dict):
            return {"error": f"{event} takes an object"}
        try:
            answer = await handler(sid, payload)
        except ServiceError as error:
            if error.retry_after is not None:
                return {"error": error.message, "retryAfter": error.retry_after}
            return {"error": error.message}
        except Exception:
            log.exception("SFU socket event failed", extra={"event": event, "sid": sid})
            return {"error": f"{event} failed: internal error"}
        return answer if answer is not None else "success"

    return on_event


def register_sfu_socket(app: web.Application, server: socketio.AsyncServer, bus: Bus) -> SfuSocket:
    """Add the SFU events to `server`; the push relay runs while `app` does."""
    sfu = SfuSocket(server, bus)
    sfu.register()
    relay_pushes(app, bus, contract.PUSH_SUBJECT, PUSH_QUEUE_GROUP, sfu.relay_push)
    return sfu
