"""Tapped Opus to PCM: packets that overtook each other on the way are decoded in their
turn, not dropped; one that never comes is given up after a few and its time is silence."""

from transcription.captions import speech_set
from transcription.captions.audio import SAMPLE_RATE, TappedOpus, parse_rtp
from webinar_contracts.tapped_rtp import RtpPacket

SECOND_OF_TONE = [index * 37 % 2000 - 1000 for index in range(SAMPLE_RATE)]


def packets() -> list[RtpPacket]:
    pcm = b"".join(sample.to_bytes(2, "little", signed=True) for sample in SECOND_OF_TONE)
    return [parse_rtp(data) for data in speech_set.rtp_packets(speech_set.opus_frames(pcm))]


def decoded(stream: list[RtpPacket]) -> bytes:
    audio = TappedOpus()
    return b"".join(audio.push(packet) for packet in stream) + audio.flush()


def test_packets_that_overtook_each_other_are_decoded_in_their_turn() -> None:
    in_order = packets()
    assert len(in_order) >= 40
    shuffled = list(in_order)
    for index in range(3, len(shuffled) - 1, 7):  # every 7th pair swapped on the way
        shuffled[index], shuffled[index + 1] = shuffled[index + 1], shuffled[index]
    assert decoded(shuffled) == decoded(in_order)


def test_a_packet_that_never_comes_leaves_silence_in_its_place_and_the_rest_follows() -> None:
    in_order = packets()
    whole = decoded(in_order)
    missing = decoded(in_order[:10] + in_order[11:])
    assert len(missing) == len(whole)  # 20 ms of silence where the packet was
    assert missing != whole
