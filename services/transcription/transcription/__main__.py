"""`python -m transcription`: run the transcription service."""

import asyncio
import logging

import aiohttp
import openai

from transcription.captions.supervisor import supervise_caption_workers
from transcription.chat_summary import ChatSummariser
from transcription.config import TranscriptionConfig
from transcription.domain import Summariser
from transcription.extractive_summary import ExtractiveSummariser
from transcription.handlers import TranscriptionHandlers
from transcription.meeting_directory import MeetingDirectory
from transcription.speech_tokens import SpeechTokenIssuer
from transcription.store import TranscriptStore
from webinar_contracts import transcription as contract
from webinar_runtime.service import Service, run_service

log = logging.getLogger("transcription")


async def open_summariser(service: Service, config: TranscriptionConfig) -> Summariser:
    """The chat API's summariser when a key is set, else the offline one."""
    if config.openai_api_key:
        client = openai.AsyncOpenAI(
            api_key=config.openai_api_key,
            base_url=config.openai_base_url or None,
            timeout=config.openai_timeout,
            max_retries=2,
        )
        service.on_close(client.close)
        log.info("summaries from an OpenAI-compatible API", extra={"model": config.openai_model})
        return ChatSummariser(
            client,
            model=config.openai_model,
            context_tokens=config.openai_context_tokens,
            summary_tokens=config.openai_summary_tokens,
        )
    offline = ExtractiveSummariser(max_sentences=config.summary_max_sentences, max_chars=config.summary_max_chars)
    await asyncio.to_thread(offline.warm_up)
    log.info("summaries from the offline summariser (OPENAI_API_KEY is not set)")
    return offline


async def wire(service: Service, config: TranscriptionConfig) -> None:
    db = await service.open_mongo(config.mongo_url, config.database)
    store = TranscriptStore(db)
    await store.create_indexes()
    http = aiohttp.ClientSession()
    service.on_close(http.close)
    speech = SpeechTokenIssuer(
        http,
        key=config.azure_speech_key,
        region=config.azure_speech_region,
        sts_url=config.azure_sts_url,
        reuse_seconds=config.speech_token_reuse_seconds,
    )
    if speech.missing_settings():
        log.info("speech tokens are off: %s not set", " and ".join(speech.missing_settings()))
    handlers = TranscriptionHandlers(
        store=store,
        meetings=MeetingDirectory(service.bus, ttl=config.meeting_cache_seconds),
        summariser=await open_summariser(service, config),
        speech=speech,
        bus=service.bus,
        summary_deadline=config.summary_deadline,
    )
    await service.serve(contract.SEND_TRANSCRIPT, handlers.send_transcript)
    await service.serve(contract.VIEW_TRANSCRIPT, handlers.view_transcript)
    await service.serve(contract.GENERATE_SUMMARY, handlers.generate_summary)
    await service.serve(contract.GET_SUMMARY, handlers.get_summary)
    await service.serve(contract.SPEECH_TOKEN, handlers.speech_token)
    # Live captions run in worker processes of their own (docs/captions.md).
    await supervise_caption_workers(service, config)


def main() -> None:
    run_service("transcription", TranscriptionConfig, wire)


if __name__ == "__main__":
    main()
