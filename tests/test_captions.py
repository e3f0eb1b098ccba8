"""Live captions against the running suite: aiortc publishers send spoken audio (espeak-ng)
into a room whose meeting has transcriptEnabled; a viewer hears `caption` events tagged
with each speaker's name, and GET /view-transcript returns the final lines in spoken
order. An Essential tenant is refused; a caption worker killed mid-meeting is replaced and
captions go on; a host turning transcriptEnabled on and off mid-meeting starts and stops the
captions of a microphone that is live already."""

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc.mediastreams import MediaStreamTrack
from roomclients import Clients, enter, produce, room_clients, send_transport, user_with_token
from sfuclient import SfuClient

from restclient import call, new_user
from transcription.captions import speech_set

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make install)"),
]

CAPTION_TIMEOUT = 45.0
SILENCE = speech_set.opus_frames(speech_set.silence(0.2))[2]  # one 20 ms frame of silence


class Microphone(MediaStreamTrack):
    """A microphone that is silent until told to say something (Opus frames, 20 ms apart)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._script: list[bytes] = []
        self._index = 0
        self.said = asyncio.Event()

    def say(self, pcm: bytes) -> float:
        """Speak `pcm` (16 kHz mono) now; how long it lasts."""
        self._script = speech_set.opus_frames(pcm)
        self.said.clear()
        return len(self._script) * 0.02

    async def recv(self) -> Any:
        await asyncio.sleep(0.02)
        data = self._script.pop(0) if self._script else SILENCE
        if not self._script:
            self.said.set()
        packet = av.Packet(data)
        packet.pts = self._index * 960
        packet.time_base = Fraction(1, 48000)
        self._index += 1
        return packet


@pytest.fixture
async def clients(suite: Any) -> AsyncIterator[Clients]:
    async with room_clients(suite) as connect:
        yield connect


def listen_captions(client: SfuClient) -> SfuClient:
    for event in ("caption", "captions:refused"):
        queue = client.pushes[event]

        async def put(data: Any, queue: asyncio.Queue[Any] = queue) -> None:
            await queue.put(data)

        client.socket.on(event, put)
    return client


async def captioned_room(
    suite: Any, http: Any, host_token: str, host_id: str, *, key: str, transcripts: bool = True
) -> tuple[str, str]:
    """A meeting room (everyone may speak) named by a meeting with transcripts on (or off): (room, meeting)."""
    status, room, _ = await call(
        http, "POST", suite.url + "/room/create", key=key, json={"name": "Planning", "type": "meeting"}
    )
    assert status == 201, room
    room_id = room["data"]["id"]
    status, meeting, _ = await call(
        http, "POST", suite.url + "/meetings/create", key=key, token=host_token,
        json={"title": "Planning", "hostId": host_id, "transcriptEnabled": transcripts},
    )  # fmt: skip
    assert status == 201, meeting
    meeting_id = meeting["data"]["_id"]
    status, answer, _ = await call(
        http, "POST", f"{suite.url}/meetings/update/{meeting_id}", key=key, token=host_token,
        json={"userId": host_id, "roomId": room_id},
    )  # fmt: skip
    assert status == 204, answer
    return room_id, meeting_id


async def publish_microphone(client: SfuClient) -> tuple[Microphone, str]:
    transport_id, peer = await client.transport()
    microphone = Microphone()
    answer = await client.produce(transport_id, peer, microphone, mid="0", app_type="mic")
    assert "producer_id" in answer, answer
    return microphone, answer["producer_id"]


Caption = dict[str, Any]


async def final_caption(
    viewer: SfuClient, *, name: str, timeout: float = CAPTION_TIMEOUT
) -> tuple[Caption, list[Caption]]:
    """The next final caption of `name` with words, and the partials of its utterance heard before it."""
    partials: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            caption = await viewer.pushes["caption"].get()
            if caption["name"] != name:
                continue
            if not caption["final"]:
                partials.append(caption)
            elif caption["text"]:
                return caption, [p for p in partials if p["utterance_id"] == caption["utterance_id"]]


async def say_until_heard(microphone: Microphone, viewer: SfuClient, sentence: str, *, name: str) -> Caption:
    """Say `sentence` again and again until the viewer gets a final caption of it, whole: while
    its microphone is not tapped yet, what is said is lost (or heard from the middle on)."""
    spoken = speech_set.synthesize(sentence, "en-us")
    heard: Caption | None = None
    async with asyncio.timeout(90):
        while heard is None or not close_enough(sentence, heard["text"]):
            await microphone.said.wait()
            seconds = microphone.say(spoken)
            with contextlib.suppress(TimeoutError):
                heard, _ = await final_caption(viewer, name=name, timeout=seconds + 8)
    return heard


async def transcript(suite: Any, http: Any, meeting_id: str, key: str) -> list[dict[str, Any]]:
    status, answer, _ = await call(http, "GET", f"{suite.url}/view-transcript/{meeting_id}", key=key)
    assert status == 200, answer
    return list(answer["data"])


def close_enough(reference: str, heard: str) -> bool:
    return speech_set.word_error_rate(reference, heard) <= 0.35


async def test_two_speakers_are_captioned_in_turn_tagged_apart_and_transcribed(suite, http, clients):
    first, second = speech_set.SENTENCES[0], speech_set.SENTENCES[2]
    host_id, host_token = await user_with_token(suite, http)
    guest_id, guest_token = await user_with_token(suite, http)
    room_id, meeting_id = await captioned_room(suite, http, host_token, host_id, key=suite.api_key)
    avery = await clients(token=host_token)
    blake = await clients(token=guest_token)
    viewer = listen_captions(await clients())
    await avery.enter(room_id, "Avery")
    await blake.enter(room_id, "Blake")
    await viewer.enter(room_id, "Casey")
    avery_mic, _ = await publish_microphone(avery)
    blake_mic, _ = await publish_microphone(blake)
    await asyncio.sleep(1.0)  # the caption workers tap both microphones

    avery_mic.say(speech_set.synthesize(first, "en-us"))
    caption, partials = await final_caption(viewer, name="Avery")
    assert close_enough(first, caption["text"]), caption
    assert (caption["peer_id"], caption["user_id"], caption["meeting_id"]) == (avery.sid, host_id, meeting_id)
    assert partials, "partial text came while Avery spoke"
    assert all(p["peer_id"] == avery.sid for p in partials)

    blake_mic.say(speech_set.synthesize(second, "en-gb+f3"))
    answer, _ = await final_caption(viewer, name="Blake")
    assert close_enough(second, answer["text"]), answer
    assert (answer["peer_id"], answer["user_id"]) == (blake.sid, guest_id)
    assert answer["timestamp"] > caption["timestamp"]

    lines: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while len(lines) < 2:
            lines = await transcript(suite, http, meeting_id, suite.api_key)
            await asyncio.sleep(0.2)
    assert [(line["userName"], line["message"]) for line in lines] == [
        ("Avery", caption["text"]),
        ("Blake", answer["text"]),
    ]


async def test_an_essential_tenant_is_refused_captions(suite, http, essential_key):
    body = new_user()
    status, registered, _ = await call(http, "POST", suite.url + "/auth/register", key=essential_key, json=body)
    assert status == 201, registered
    host_id = registered["data"]["user"]["_id"]
    status, login, _ = await call(
        http, "POST", suite.url + "/auth/login", key=essential_key,
        json={"userName": body["email"], "password": body["password"]},
    )  # fmt: skip
    token = login["data"]["accessToken"]
    room_id, meeting_id = await captioned_room(suite, http, token, host_id, key=essential_key)
    async with room_clients(suite) as connect:
        host = listen_captions(await connect(api_key=essential_key, token=token))
        viewer = listen_captions(await connect(api_key=essential_key))
        await enter(host, room_id, "Avery")
        await enter(viewer, room_id, "Casey")
        answer = await produce(host, await send_transport(host), "audio", "mic", mid="0")
        assert "producer_id" in answer, answer
        refused = await asyncio.wait_for(viewer.pushes["captions:refused"].get(), 15)
        host_sid = host.sid
    assert refused == {
        "meeting_id": meeting_id,
        "peer_id": host_sid,
        "reason": "live captions are part of the Professional plan; this tenant is on Essential",
    }
    assert viewer.pushes["caption"].empty()
    assert await transcript(suite, http, meeting_id, essential_key) == []


def caption_worker_pids(suite: Any) -> list[int]:
    parent = suite.processes["transcription"].process.pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if b"transcription.captions" in Path(f"/proc/{pid}/cmdline").read_bytes()]


async def test_a_caption_worker_killed_mid_meeting_is_replaced_and_captions_go_on(suite, http, clients):
    host_id, host_token = await user_with_token(suite, http)
    room_id, meeting_id = await captioned_room(suite, http, host_token, host_id, key=suite.api_key)
    avery = await clients(token=host_token)
    viewer = listen_captions(await clients())
    await avery.enter(room_id, "Avery")
    await viewer.enter(room_id, "Casey")
    microphone, _ = await publish_microphone(avery)
    await asyncio.sleep(1.0)
    before = speech_set.SENTENCES[4]
    microphone.say(speech_set.synthesize(before, "en-us"))
    caption, _ = await final_caption(viewer, name="Avery")
    assert close_enough(before, caption["text"])

    (killed,) = caption_worker_pids(suite)
    os.kill(killed, signal.SIGKILL)
    # The tap's lease lapses, the node offers the microphone again and the restarted worker takes it.
    heard = await say_until_heard(microphone, viewer, speech_set.SENTENCES[5], name="Avery")
    (replacement,) = caption_worker_pids(suite)
    assert replacement != killed
    lines = await transcript(suite, http, meeting_id, suite.api_key)
    assert lines[0]["message"] == caption["text"]
    assert heard["text"] in [line["message"] for line in lines]


async def set_transcripts(suite: Any, http: Any, meeting_id: str, host_id: str, token: str, *, on: bool) -> None:
    status, answer, _ = await call(
        http, "POST", f"{suite.url}/meetings/update/{meeting_id}", key=suite.api_key, token=token,
        json={"userId": host_id, "transcriptEnabled": on},
    )  # fmt: skip
    assert status == 204, answer


async def say_unheard(microphone: Microphone, viewer: SfuClient, sentence: str) -> list[Caption]:
    """Say `sentence` whole and wait past its end and its transcription: the captions that came."""
    microphone.say(speech_set.synthesize(sentence, "en-gb+f3"))
    await microphone.said.wait()
    await asyncio.sleep(UNHEARD_AFTER)
    heard = []
    while not viewer.pushes["caption"].empty():
        heard.append(viewer.pushes["caption"].get_nowait())
    return heard


UNHEARD_AFTER = 2.0  # past an utterance's end (600 ms of silence) and its final line's transcription
SETTLE = 2.5  # the update's event reaches the room's node (a fetch, up to 1 s) and the tap stops


async def test_transcripts_turned_on_and_off_mid_meeting_caption_a_live_microphone_and_then_stop(suite, http, clients):
    host_id, host_token = await user_with_token(suite, http)
    room_id, meeting_id = await captioned_room(suite, http, host_token, host_id, key=suite.api_key, transcripts=False)
    avery = await clients(token=host_token)
    viewer = listen_captions(await clients())
    await avery.enter(room_id, "Avery")
    await viewer.enter(room_id, "Casey")
    microphone, producer_id = await publish_microphone(avery)
    assert await say_unheard(microphone, viewer, speech_set.SENTENCES[1]) == []

    await set_transcripts(suite, http, meeting_id, host_id, host_token, on=True)
    sentence = speech_set.SENTENCES[6]
    heard = await say_until_heard(microphone, viewer, sentence, name="Avery")
    assert (heard["producer_id"], heard["peer_id"], heard["meeting_id"]) == (producer_id, avery.sid, meeting_id)

    await set_transcripts(suite, http, meeting_id, host_id, host_token, on=False)
    await asyncio.sleep(SETTLE)
    lines = await transcript(suite, http, meeting_id, suite.api_key)
    assert heard["text"] in [line["message"] for line in lines]
    while not viewer.pushes["caption"].empty():
        viewer.pushes["caption"].get_nowait()  # what was said before it was turned off
    assert await say_unheard(microphone, viewer, speech_set.SENTENCES[3]) == []
    assert await transcript(suite, http, meeting_id, suite.api_key) == lines
