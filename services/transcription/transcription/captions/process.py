"""A caption worker process: its bus adapters (the media node's taps, the meetings
service, pushes to the gateways, the transcript store) and its wiring. `python -m
transcription` runs CAPTION_WORKERS of these (transcription.captions.supervisor); each is
`python -m transcription.captions` and can also be run (and scaled) on its own."""

import asyncio
import logging
from datetime import datetime

import msgspec
from nats.aio.client import Client as NatsClient

from transcription.captions.recognition import AzureRecognition, OnCaption, Recognition, WhisperRecognition
from transcription.captions.scheduler import CaptionScheduler
from transcription.captions.whisper import WhisperEngine
from transcription.captions.worker import CaptionWorker, RecognitionFactory
from transcription.config import TranscriptionConfig
from transcription.domain import caption_line
from transcription.store import TranscriptStore
from webinar_contracts import NotFound, RequestContext
from webinar_contracts import media as media_contract
from webinar_contracts import meetings as meetings_contract
from webinar_contracts import transcription as contract
from webinar_contracts.transcription import Caption
from webinar_runtime.bus import Bus
from webinar_runtime.node_taps import NodeTaps
from webinar_runtime.room_pushes import RoomPushQueue
from webinar_runtime.service import Service

log = logging.getLogger("transcription.captions")


class BusRoomMeetings:
    """Which meeting names a room with transcripts on, as the meetings service says."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def transcript_meeting(self, tenant_id: str, room_id: str) -> str | None:
        try:
            details = await self._bus.request(
                meetings_contract.GET_ROOM,
                meetings_contract.GetRoom(room_id=room_id),
                context=RequestContext(tenant_id=tenant_id),
            )
        except NotFound:
            return None  # a room opened on the socket: no meeting names it
        return details.transcript_meeting_id


class BusCaptionSink:
    """Pushes go, in order, to the gateways on the media plane's push subject (as a media
    node's room events do); final lines go to the transcript store."""

    def __init__(self, nc: NatsClient, store: TranscriptStore) -> None:
        self._store = store
        self._pushes = RoomPushQueue(nc, name="caption-pushes")

    def start(self) -> None:
        self._pushes.start()

    def push(self, tenant_id: str, room_id: str, event: str, data: msgspec.Struct) -> None:
        message = media_contract.MediaPush(
            tenant_id=tenant_id, room_id=room_id, event=event, data=msgspec.Raw(msgspec.json.encode(data))
        )
        self._pushes.send(message)

    async def store_line(self, caption: Caption, *, tenant_id: str, started_at: datetime) -> None:
        line = caption_line(
            tenant_id=tenant_id,
            meeting_id=caption.meeting_id,
            name=caption.name,
            text=caption.text,
            user_id=caption.user_id,
            peer_id=caption.peer_id,
        )
        if line is not None:
            await self._store.add_line(line, started_at)

    async def stop(self) -> None:
        await self._pushes.stop()


def whisper_recognitions(scheduler: CaptionScheduler, *, partial_every: float) -> RecognitionFactory:
    def new(stream: str, meeting: tuple[str, str], on_caption: OnCaption) -> Recognition:
        return WhisperRecognition(
            stream=stream, meeting=meeting, scheduler=scheduler, on_caption=on_caption, partial_every=partial_every
        )

    return new


async def wire_caption_worker(service: Service, config: TranscriptionConfig) -> None:
    """One caption worker on the bus: it answers CAPTION_PRODUCER once its engine is ready."""
    db = await service.open_mongo(config.mongo_url, config.database)
    store = TranscriptStore(db)
    sink = BusCaptionSink(service.bus.nc, store)
    loop = asyncio.get_running_loop()
    engine = config.caption_engine_in_use
    new_recognition: RecognitionFactory
    scheduler: CaptionScheduler | None = None
    if engine == "azure":

        def azure_recognition(stream: str, meeting: tuple[str, str], on_caption: OnCaption) -> Recognition:
            return AzureRecognition(
                key=config.azure_speech_key,
                region=config.azure_speech_region,
                endpoint=config.azure_speech_endpoint,
                language=config.caption_language,
                on_caption=on_caption,
                post=lambda call: loop.call_soon_threadsafe(call),
                partial_every=config.caption_partial_seconds,
            )

        new_recognition = azure_recognition
    else:
        from pathlib import Path

        model_path = Path(config.caption_model_path) if config.caption_model_path else None
        whisper = await asyncio.to_thread(WhisperEngine, model_path, threads=config.caption_threads)
        scheduler = CaptionScheduler(whisper.transcribe)
        new_recognition = whisper_recognitions(scheduler, partial_every=config.caption_partial_seconds)
    worker = CaptionWorker(
        worker_id=config.instance_id,
        taps=NodeTaps(service.bus),
        rooms=BusRoomMeetings(service.bus),
        sink=sink,
        new_recognition=new_recognition,
        listen_ip=config.caption_listen_ip,
        announced_ip=config.caption_announced_ip,
        max_streams=config.caption_max_streams,
        lease_seconds=config.caption_tap_lease_seconds,
    )
    sink.start()
    scheduler_task = asyncio.create_task(scheduler.run(), name="caption-scheduler") if scheduler else None

    async def stop() -> None:
        await worker.drain(finish=scheduler.finish if scheduler is not None else None)
        if scheduler_task is not None:
            scheduler_task.cancel()
            await asyncio.gather(scheduler_task, return_exceptions=True)
        if scheduler is not None:
            scheduler.close()
        await sink.stop()

    service.on_stop(stop)
    await service.serve(contract.CAPTION_PRODUCER, worker.offer)
    await service.serve(contract.CAPTION_CHECK, worker.check)
    log.info("caption worker ready", extra={"engine": engine, "worker": config.instance_id})
