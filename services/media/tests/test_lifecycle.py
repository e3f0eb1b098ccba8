"""The ownership tree: who closes whom, with which reason, and what is refused afterwards."""

from typing import Any

import msgspec
import pytest

from media.consumer import Consumer, ConsumerState
from media.lifecycle import CloseReason
from media.producer import Producer, ProducerState
from media.router import Router, RouterState, Worker
from media.transport import TransportState, WebRtcTransport
from webinar_contracts import Conflict, InvalidInput, NotFound
from webinar_contracts.media import RtpCapabilities, RtpParameters


class Recorder:
    """Collects (state, reason) from an object's state listener."""

    def __init__(self, target: Producer | Consumer | WebRtcTransport | Router) -> None:
        self.changes: list[tuple[str, CloseReason | None]] = []
        target.on_state(lambda state, reason: self.changes.append((str(state), reason)))


def screen(fixture_json: Any, ssrc: int = 1711563410) -> RtpParameters:
    raw = fixture_json("chrome_produce_screen.json")
    raw["encodings"] = [{"ssrc": ssrc, "rtx": {"ssrc": ssrc + 1}}]
    parameters: RtpParameters = msgspec.convert(raw, RtpParameters)
    return parameters


async def room(router: Router, fixture_json: Any, device: RtpCapabilities) -> tuple[Any, ...]:
    """A publisher's send transport with a producer, and two viewers consuming it."""
    send = await router.create_webrtc_transport()
    producer = send.produce(kind="video", rtp_parameters=screen(fixture_json))
    viewers = [await router.create_webrtc_transport() for _ in range(2)]
    consumers = [v.consume(producer_id=producer.id, rtp_capabilities=device) for v in viewers]
    return send, producer, viewers, consumers


async def test_closing_a_producer_closes_its_consumers_with_that_reason(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    send, producer, viewers, consumers = await room(router, fixture_json, chrome_device)
    recorders = [Recorder(c) for c in consumers]
    producer.close()
    producer.close()
    assert producer.state is ProducerState.CLOSED
    assert [r.changes for r in recorders] == [[("closed", CloseReason.PRODUCER_CLOSED)]] * 2
    assert producer.id not in router.producers
    assert send.producers == {}
    assert all(v.consumers == {} for v in viewers)


async def test_closing_a_consumer_leaves_the_producer_and_other_consumers(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    _, producer, viewers, consumers = await room(router, fixture_json, chrome_device)
    recorder = Recorder(consumers[0])
    consumers[0].close()
    consumers[0].close()
    assert recorder.changes == [("closed", CloseReason.REQUESTED)]
    assert list(producer.consumers) == [consumers[1].id]
    assert viewers[0].consumers == {}
    assert consumers[1].state is ConsumerState.ACTIVE


async def test_closing_a_transport_closes_its_producers_and_their_consumers_elsewhere(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    send, producer, viewers, consumers = await room(router, fixture_json, chrome_device)
    own = send.consume(producer_id=producer.id, rtp_capabilities=chrome_device)  # a peer watching itself
    producer_recorder, own_recorder = Recorder(producer), Recorder(own)
    remote_recorder = Recorder(consumers[0])
    await send.close()
    assert send.state is TransportState.CLOSED
    assert producer_recorder.changes == [("closed", CloseReason.TRANSPORT_CLOSED)]
    assert remote_recorder.changes == [("closed", CloseReason.PRODUCER_CLOSED)]
    assert own_recorder.changes[-1][0] == "closed"
    assert send.id not in router.transports
    assert router.producers == {}
    assert all(not v.closed for v in viewers)


async def test_closing_a_router_closes_every_transport_in_it(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    send, _, viewers, consumers = await room(router, fixture_json, chrome_device)
    transport_recorder = Recorder(viewers[0])
    await router.close()
    await router.close()
    assert router.state is RouterState.CLOSED
    assert transport_recorder.changes == [("closed", CloseReason.ROUTER_CLOSED)]
    assert send.closed
    assert all(v.closed for v in viewers)
    assert all(c.closed for c in consumers)
    with pytest.raises(Conflict):
        await router.create_webrtc_transport()


async def test_closing_the_worker_closes_its_routers() -> None:
    worker = Worker()
    router = worker.create_router()
    transport = await router.create_webrtc_transport()
    recorder = Recorder(transport)
    await worker.close()
    assert router.closed
    assert worker.routers == {}
    assert recorder.changes == [("closed", CloseReason.WORKER_CLOSED)]
    with pytest.raises(Conflict):
        worker.create_router()


async def test_a_closed_transport_refuses_to_produce_or_consume(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    _, producer, _, _ = await room(router, fixture_json, chrome_device)
    viewer = await router.create_webrtc_transport()
    await viewer.close()
    with pytest.raises(Conflict):
        viewer.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    with pytest.raises(Conflict):
        viewer.produce(kind="video", rtp_parameters=screen(fixture_json, ssrc=5000))


async def test_consuming_an_unknown_producer_names_it(router: Router, chrome_device: RtpCapabilities) -> None:
    viewer = await router.create_webrtc_transport()
    with pytest.raises(NotFound) as caught:
        viewer.consume(producer_id="nope", rtp_capabilities=chrome_device)
    assert caught.value.field == "producer_id"


async def test_a_device_that_cannot_receive_the_codec_is_refused(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    _, producer, _, _ = await room(router, fixture_json, chrome_device)
    audio_only = msgspec.structs.replace(chrome_device, codecs=[c for c in chrome_device.codecs if c.kind == "audio"])
    viewer = await router.create_webrtc_transport()
    assert not router.can_consume(producer.id, audio_only)
    with pytest.raises(InvalidInput, match="cannot receive video/VP8"):
        viewer.consume(producer_id=producer.id, rtp_capabilities=audio_only)
    assert viewer.consumers == {}


async def test_the_same_ssrc_cannot_be_produced_twice_on_a_transport(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    send, _, _, _ = await room(router, fixture_json, chrome_device)
    again = msgspec.structs.replace(screen(fixture_json), mid="7")
    with pytest.raises(Conflict):
        send.produce(kind="video", rtp_parameters=again)


async def test_pausing_a_producer_is_seen_by_its_consumers(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    _, producer, _, consumers = await room(router, fixture_json, chrome_device)
    producer.pause()
    assert producer.state is ProducerState.PAUSED
    assert all(c.producer_paused for c in consumers)
    producer.resume()
    assert not any(c.producer_paused for c in consumers)


async def test_consumers_get_their_transports_next_mid(
    router: Router, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    _, producer, _, _ = await room(router, fixture_json, chrome_device)
    viewer = await router.create_webrtc_transport()
    first = viewer.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    second = viewer.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    assert (first.rtp_parameters.mid, second.rtp_parameters.mid) == ("0", "1")
    assert first.ssrc != second.ssrc
    assert first.type == "simple"
