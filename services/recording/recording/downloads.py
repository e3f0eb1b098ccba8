"""A ready recording's file over the bus, for the gateway's download route: its details,
then bounded reads from any offset (the route answers HTTP range requests with them).
Only the recording's tenant reaches it: by the tenant of the request, or, for a link a
`<video>` plays (no API key), by the recording's download token."""

import re
import secrets
from dataclasses import dataclass

from recording.domain import MAX_ID, RecordingSession
from recording.processing import CONTENT_TYPE
from recording.store import RecordingStore
from webinar_contracts import Conflict, InvalidInput, NotFound, RequestContext, Unauthorized
from webinar_contracts.recording import READY, GetOutput, OutputChunk, OutputDetails, ReadOutput
from webinar_contracts.validation import required_text
from webinar_runtime.blobs import BlobNotFound, BlobStore

MAX_READ = 512 * 1024
_NOT_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download_name(recording_id: str) -> str:
    return (_NOT_SAFE.sub("_", recording_id).strip("._") or "recording") + ".mp4"


@dataclass(frozen=True)
class Served:
    """The file a download reads: its blob, size, type and name."""

    session: RecordingSession
    key: str
    size: int
    content_type: str
    filename: str


@dataclass
class DownloadHandlers:
    store: RecordingStore
    blobs: BlobStore

    async def _session(self, recording_id: str, token: str | None, context: RequestContext) -> RecordingSession:
        recording_id = required_text(recording_id, "recordingId", MAX_ID)
        if context.tenant_id:
            session = await self.store.find(context.tenant_id, recording_id)
        elif token:
            session = await self.store.find_by_token(recording_id, token)
            if session is not None and not secrets.compare_digest(session.download_token or "", token):
                session = None
        else:
            raise Unauthorized("an x-api-key or the recording's download token is required")
        if session is None:
            raise NotFound("no recording with this recordingId", field="recordingId")
        return session

    async def _served(
        self, recording_id: str, token: str | None, track_id: str | None, context: RequestContext
    ) -> Served:
        """The recording's processed file, or (`track_id`) one track's file of a server-side
        recording, which is there from when the recording's tracks are stored."""
        session = await self._session(recording_id, token, context)
        if track_id is not None:
            track = next((track for track in session.tracks if track.track_id == track_id), None)
            if track is None:
                raise NotFound("this recording has no stored track with this trackId", field="trackId")
            return Served(
                session=session,
                key=track.key,
                size=track.size,
                content_type=track.mime_type.split(";", 1)[0],
                filename=f"{download_name(session.recording_id).removesuffix('.mp4')}-{track.track_id}.{track.extension}",
            )
        if session.status != READY or not session.output_key or session.output_size is None:
            raise Conflict(f"recording {recording_id} is {session.status}: it has no file yet", field="recordingId")
        return Served(
            session=session,
            key=session.output_key,
            size=session.output_size,
            content_type=CONTENT_TYPE,
            filename=download_name(session.recording_id),
        )

    async def get_output(self, request: GetOutput, context: RequestContext) -> OutputDetails:
        served = await self._served(request.recording_id, request.token, request.track_id, context)
        return OutputDetails(
            tenant_id=served.session.tenant_id,
            recording_id=served.session.recording_id,
            size=served.size,
            content_type=served.content_type,
            filename=served.filename,
        )

    async def read_output(self, request: ReadOutput, context: RequestContext) -> OutputChunk:
        if request.offset < 0:
            raise InvalidInput("offset must not be negative", field="offset")
        if not 1 <= request.length <= MAX_READ:
            raise InvalidInput(f"length must be from 1 to {MAX_READ}", field="length")
        served = await self._served(request.recording_id, request.token, request.track_id, context)
        try:
            reading = self.blobs.read(served.key, offset=request.offset, length=request.length)
            pieces = [piece async for piece in reading]
        except BlobNotFound:
            raise NotFound("the recording's file is gone from storage", field="recordingId") from None
        return OutputChunk(data=b"".join(pieces))
