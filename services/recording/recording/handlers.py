"""Bus subjects of the recording service -> domain rules and the store."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from recording.domain import (
    MAX_ID,
    RecordingSession,
    StoredTrack,
    check_stop,
    normalise_stream_id,
    parse_instant,
    stopped_event_id,
    validate_start,
)
from recording.store import RecordingStore
from webinar_contracts import Empty, NotFound, RequestContext
from webinar_contracts.paging import PagePosition, check_limit, decode_cursor, encode_cursor
from webinar_contracts.recording import (
    FAILED,
    READY,
    RECORDING_STOPPED,
    ListRecordings,
    RecordedTrack,
    Recording,
    RecordingPage,
    RecordingStopped,
    RoomRecordingEvent,
    StartRecording,
    StopRecording,
    download_path,
)
from webinar_contracts.validation import required_text
from webinar_runtime.bus import Bus

log = logging.getLogger("recording")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def download_link(session: RecordingSession) -> str | None:
    """Where a ready recording's file is served: the gateway's path with the recording's
    download token, so a `<video src>` (which sends no API key) can play it."""
    if session.status != READY or not session.download_token:
        return None
    return f"{download_path(session.recording_id)}?token={session.download_token}"


def track_link(session: RecordingSession, track: StoredTrack) -> str | None:
    """Where a ready server-side recording's track file is served (with the download token)."""
    if session.status != READY or not session.download_token:
        return None
    return f"{download_path(session.recording_id)}?track={quote(track.track_id)}&token={session.download_token}"


def track_view(session: RecordingSession, track: StoredTrack) -> RecordedTrack:
    return RecordedTrack(
        track_id=track.track_id,
        kind=track.kind,
        mime_type=track.mime_type,
        peer_id=track.peer_id,
        peer_name=track.peer_name,
        offset=track.offset,
        duration=track.duration,
        size=track.size,
        download_url=track_link(session, track),
        segment=track.segment,
        segment_of=track.track,
    )


def room_event(session: RecordingSession, reason: str | None = None) -> RoomRecordingEvent:
    """What the room hears of its server-side recording, as it is now."""
    ready = session.status == READY
    return RoomRecordingEvent(
        recording_id=session.recording_id,
        room_id=session.room_id,
        status=session.status,
        host_name=session.user_name,
        start_time=session.started_at,
        end_time=session.ended_at,
        download_url=download_link(session),
        size=session.output_size if ready else None,
        duration=session.duration if ready else None,
        reason=reason or (session.failure_reason if session.status == FAILED else None),
    )


def recording_view(session: RecordingSession) -> Recording:
    ready = session.status == READY
    return Recording(
        id=session.id,
        room_id=session.room_id,
        recording_id=session.recording_id,
        host_name=session.user_name,
        status=session.status,
        stream_id=session.stream_id,
        video_type=session.video_type,
        start_time=session.started_at,
        end_time=session.ended_at,
        created_at=session.created_at,
        updated_at=session.updated_at,
        download_url=download_link(session),
        size=session.output_size if ready else None,
        duration=session.duration if ready else None,
        failure_reason=session.failure_reason if session.status == FAILED else None,
        source=session.source,
        tracks=[track_view(session, track) for track in session.tracks],
    )


@dataclass
class RecordingHandlers:
    store: RecordingStore
    bus: Bus
    max_page_size: int
    clock: Callable[[], datetime] = field(default=_utc_now)

    async def start(self, request: StartRecording, context: RequestContext) -> Recording:
        tenant_id = context.require_tenant()
        new = validate_start(request, tenant_id)
        session = await self.store.insert(new, self.clock())
        log.info("recording started", extra={"tenant_id": tenant_id, "recording_id": session.recording_id})
        return recording_view(session)

    async def stop(self, request: StopRecording, context: RequestContext) -> Empty:
        tenant_id = context.require_tenant()
        recording_id = required_text(request.recording_id, "recordingId", MAX_ID)
        stream_id = normalise_stream_id(request.stream_id)
        ended_at = parse_instant(request.end_time, "endTime")
        session = await self.store.find(tenant_id, recording_id)
        if session is None:
            raise NotFound("no recording with this recordingId", field="recordingId")
        check_stop(session, stream_id, ended_at)
        if not session.stopped:
            stopped = await self.store.mark_stopped(tenant_id, recording_id, ended_at, self.clock())
            # None: another stop won the race, and its (first) end stands.
            session = stopped or await self.store.find(tenant_id, recording_id) or session
            log.info("recording stopped", extra={"tenant_id": tenant_id, "recording_id": recording_id})
        # Published on every stop, with one id per recording: a stop retried because its
        # publish failed repairs the event, and JetStream stores a repeat only once.
        await self.bus.publish(
            RECORDING_STOPPED,
            RecordingStopped(
                recording_id=session.recording_id,
                room_id=session.room_id,
                stream_id=session.stream_id,
                user_name=session.user_name,
                started_at=session.started_at,
                ended_at=session.ended_at,
            ),
            context=context,
            event_id=stopped_event_id(tenant_id, recording_id),
        )
        return Empty()

    async def list(self, request: ListRecordings, context: RequestContext) -> RecordingPage:
        tenant_id = context.require_tenant()
        limit = check_limit(request.limit, self.max_page_size)
        after = decode_cursor(request.cursor) if request.cursor else None
        # `?roomId=` (empty) lists every room, as leaving it out does.
        room_id = (
            required_text(request.room_id, "roomId", MAX_ID) if request.room_id and request.room_id.strip() else None
        )
        sessions, more = await self.store.newest(tenant_id, room_id=room_id, limit=limit, after=after)
        next_cursor = None
        if more and sessions:
            last = sessions[-1]
            next_cursor = encode_cursor(PagePosition(created_at=last.created_at, id=last.id))
        return RecordingPage(data=[recording_view(session) for session in sessions], next_cursor=next_cursor)
