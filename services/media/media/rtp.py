"""RTP and RTCP packets as the SFU reads and writes them (RFC 3550, 5285/8285, 4585, 5104).

Synchronous, I/O-free functions: parse a datagram, build one, and the few header
rewrites forwarding needs. Parsing then serialising a packet gives back the same bytes
(header extensions in their usual contiguous layout, as browsers write them).
"""

import struct
from dataclasses import dataclass, field

RTP_VERSION = 2
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE = 0x1000  # the low 4 bits carry "appbits"

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_RTPFB = 205
RTCP_PSFB = 206

RTPFB_NACK = 1
RTPFB_TRANSPORT_CC = 15
PSFB_PLI = 1
PSFB_FIR = 4
PSFB_REMB = 15  # "application layer feedback", REMB when the FCI starts with b"REMB"

_HEADER = struct.Struct("!BBHII")
_RTCP_HEADER = struct.Struct("!BBH")
_REPORT = struct.Struct("!IB3sIIII")


class PacketError(ValueError):
    """A datagram that is not a well-formed RTP or RTCP packet."""


def is_rtcp(data: bytes) -> bool:
    """RTCP and RTP share a port (RFC 5761): RTCP packet types 192-223 sit where RTP
    payload types 64-95 with the marker bit would."""
    return len(data) >= 2 and 192 <= data[1] <= 223


# --- RTP ---


@dataclass(slots=True, kw_only=True)
class RtpPacket:
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    # One-byte (0xBEDE) or two-byte (0x100X) header extensions as (id, value); any other
    # profile is kept whole in `extension_data`.
    extension_profile: int | None = None
    extensions: tuple[tuple[int, bytes], ...] = ()
    extension_data: bytes = b""
    payload: bytes = b""
    padding: bytes = b""

    def extension(self, extension_id: int | None) -> bytes | None:
        """The value of the header extension with this id, or None."""
        if extension_id is None:
            return None
        for ext_id, value in self.extensions:
            if ext_id == extension_id:
                return value
        return None


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse an RTP packet; raises PacketError when it is malformed."""
    if len(data) < 12:
        raise PacketError(f"RTP packet of {len(data)} bytes is shorter than its header")
    first, second, sequence_number, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise PacketError(f"RTP version {first >> 6}, expected 2")
    has_padding = bool(first & 0x20)
    has_extension = bool(first & 0x10)
    csrc_count = first & 0x0F
    offset = 12 + 4 * csrc_count
    if len(data) < offset:
        raise PacketError("RTP packet shorter than its CSRC list")
    csrcs = struct.unpack_from(f"!{csrc_count}I", data, 12) if csrc_count else ()

    extension_profile: int | None = None
    extensions: tuple[tuple[int, bytes], ...] = ()
    extension_data = b""
    if has_extension:
        if len(data) < offset + 4:
            raise PacketError("RTP packet shorter than its extension header")
        extension_profile, words = struct.unpack_from("!HH", data, offset)
        offset += 4
        end = offset + 4 * words
        if len(data) < end:
            raise PacketError("RTP packet shorter than its header extensions")
        block = data[offset:end]
        if extension_profile == ONE_BYTE_PROFILE:
            extensions = _parse_one_byte_extensions(block)
        elif extension_profile & 0xFFF0 == TWO_BYTE_PROFILE:
            extensions = _parse_two_byte_extensions(block)
        else:
            extension_data = block
        offset = end

    end = len(data)
    padding = b""
    if has_padding:
        if end <= offset or data[-1] == 0 or data[-1] > end - offset:
            raise PacketError("RTP padding longer than the packet")
        padding = data[end - data[-1] :]
        end -= data[-1]
    return RtpPacket(
        payload_type=second & 0x7F,
        sequence_number=sequence_number,
        timestamp=timestamp,
        ssrc=ssrc,
        marker=bool(second & 0x80),
        csrcs=tuple(csrcs),
        extension_profile=extension_profile,
        extensions=extensions,
        extension_data=extension_data,
        payload=data[offset:end],
        padding=padding,
    )


def _parse_one_byte_extensions(block: bytes) -> tuple[tuple[int, bytes], ...]:
    found = []
    pos = 0
    while pos < len(block):
        byte = block[pos]
        if byte == 0:  # padding between or after elements
            pos += 1
            continue
        ext_id, length = byte >> 4, (byte & 0x0F) + 1
        if ext_id == 15:  # reserved: stop reading
            break
        if pos + 1 + length > len(block):
            raise PacketError(f"header extension {ext_id} runs past its block")
        found.append((ext_id, block[pos + 1 : pos + 1 + length]))
        pos += 1 + length
    return tuple(found)


def _parse_two_byte_extensions(block: bytes) -> tuple[tuple[int, bytes], ...]:
    found = []
    pos = 0
    while pos < len(block):
        ext_id = block[pos]
        if ext_id == 0:
            pos += 1
            continue
        if pos + 2 > len(block):
            raise PacketError("two-byte header extension cut short")
        length = block[pos + 1]
        if pos + 2 + length > len(block):
            raise PacketError(f"header extension {ext_id} runs past its block")
        found.append((ext_id, block[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return tuple(found)


def _extension_block(profile: int, extensions: tuple[tuple[int, bytes], ...]) -> bytes:
    if profile == ONE_BYTE_PROFILE:
        parts = []
        for ext_id, value in extensions:
            if not 1 <= ext_id <= 14 or not 1 <= len(value) <= 16:
                raise PacketError(f"header extension {ext_id} of {len(value)} bytes does not fit the one-byte form")
            parts.append(bytes(((ext_id << 4) | (len(value) - 1),)) + value)
        body = b"".join(parts)
    else:
        body = b"".join(bytes((ext_id, len(value))) + value for ext_id, value in extensions)
    return body + b"\x00" * (-len(body) % 4)


def extension_profile_for(extensions: tuple[tuple[int, bytes], ...]) -> int:
    """The one-byte form when every element fits it, else the two-byte form."""
    if all(1 <= ext_id <= 14 and 1 <= len(value) <= 16 for ext_id, value in extensions):
        return ONE_BYTE_PROFILE
    return TWO_BYTE_PROFILE


def build_rtp(
    *,
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    marker: bool = False,
    csrcs: tuple[int, ...] = (),
    extensions: tuple[tuple[int, bytes], ...] = (),
    extension_profile: int | None = None,
    extension_data: bytes = b"",
    padding: bytes = b"",
) -> bytes:
    """Serialise an RTP packet from its fields. With `extensions` and no profile the
    one-byte form is used when it fits."""
    if extension_profile is None and extensions:
        extension_profile = extension_profile_for(extensions)
    first = (RTP_VERSION << 6) | (0x20 if padding else 0) | (0x10 if extension_profile is not None else 0) | len(csrcs)
    parts = [
        _HEADER.pack(
            first,
            (0x80 if marker else 0) | payload_type,
            sequence_number & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            ssrc,
        )
    ]
    if csrcs:
        parts.append(struct.pack(f"!{len(csrcs)}I", *csrcs))
    if extension_profile is not None:
        if extension_profile == ONE_BYTE_PROFILE or extension_profile & 0xFFF0 == TWO_BYTE_PROFILE:
            block = _extension_block(extension_profile, extensions)
        else:
            block = extension_data
        parts.append(struct.pack("!HH", extension_profile, len(block) // 4))
        parts.append(block)
    parts.append(payload)
    parts.append(padding)
    return b"".join(parts)


def one_byte_element(extension_id: int, value: bytes) -> bytes:
    """One header extension element in the one-byte form (RFC 8285 4.2)."""
    if not 1 <= extension_id <= 14 or not 1 <= len(value) <= 16:
        raise PacketError(f"header extension {extension_id} of {len(value)} bytes does not fit the one-byte form")
    return bytes(((extension_id << 4) | (len(value) - 1),)) + value


_ONE_BYTE_HEADERS = [struct.pack("!HH", ONE_BYTE_PROFILE, words) for words in range(64)]


def build_rtp_with_elements(
    *,
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    elements: bytes,
    marker: bool = False,
    csrcs: tuple[int, ...] = (),
) -> bytes:
    """`build_rtp` for the forwarding hot path: the one-byte header extension elements come
    already encoded (see `one_byte_element`), concatenated, unpadded."""
    first = 0x80 | len(csrcs)
    if elements:
        first |= 0x10
    header = _HEADER.pack(first, (0x80 if marker else 0) | payload_type, sequence_number, timestamp, ssrc)
    if csrcs:
        header += struct.pack(f"!{len(csrcs)}I", *csrcs)
    if not elements:
        return header + payload
    padding = -len(elements) % 4
    if padding:
        elements += b"\x00" * padding
    return b"".join((header, _ONE_BYTE_HEADERS[len(elements) // 4], elements, payload))


def serialize_rtp(packet: RtpPacket) -> bytes:
    return build_rtp(
        payload_type=packet.payload_type,
        sequence_number=packet.sequence_number,
        timestamp=packet.timestamp,
        ssrc=packet.ssrc,
        payload=packet.payload,
        marker=packet.marker,
        csrcs=packet.csrcs,
        extensions=packet.extensions,
        extension_profile=packet.extension_profile,
        extension_data=packet.extension_data,
        padding=packet.padding,
    )


def unwrap_rtx(packet: RtpPacket, *, payload_type: int, ssrc: int) -> RtpPacket:
    """The original packet an RTX packet (RFC 4588) repairs, under the media payload
    type and SSRC given."""
    if len(packet.payload) < 2:
        raise PacketError("RTX packet without an original sequence number")
    (original_sequence_number,) = struct.unpack_from("!H", packet.payload)
    return RtpPacket(
        payload_type=payload_type,
        sequence_number=original_sequence_number,
        timestamp=packet.timestamp,
        ssrc=ssrc,
        marker=packet.marker,
        csrcs=packet.csrcs,
        extension_profile=packet.extension_profile,
        extensions=packet.extensions,
        extension_data=packet.extension_data,
        payload=packet.payload[2:],
    )


def abs_send_time(ntp_seconds: float) -> bytes:
    """The 24-bit abs-send-time value (6.18 fixed-point seconds) for a wall-clock time."""
    value = int(ntp_seconds * (1 << 18)) & 0xFFFFFF
    return value.to_bytes(3, "big")


def seq_newer(a: int, b: int) -> bool:
    """Whether 16-bit sequence number `a` comes after `b`, across wrap-around."""
    return a != b and (a - b) & 0xFFFF < 0x8000


# --- RTCP ---


@dataclass(slots=True, kw_only=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int
    packets_lost: int  # cumulative, signed 24-bit
    highest_sequence: int
    jitter: int
    lsr: int
    dlsr: int

    def to_bytes(self) -> bytes:
        lost = (self.packets_lost & 0xFFFFFF).to_bytes(3, "big")
        return _REPORT.pack(
            self.ssrc, self.fraction_lost, lost, self.highest_sequence, self.jitter, self.lsr, self.dlsr
        )

    @classmethod
    def parse(cls, data: bytes, offset: int) -> "ReportBlock":
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _REPORT.unpack_from(data, offset)
        packets_lost = int.from_bytes(lost, "big")
        if packets_lost & 0x800000:
            packets_lost -= 0x1000000
        return cls(
            ssrc=ssrc,
            fraction_lost=fraction,
            packets_lost=packets_lost,
            highest_sequence=highest,
            jitter=jitter,
            lsr=lsr,
            dlsr=dlsr,
        )


@dataclass(slots=True, kw_only=True)
class RtcpSenderReport:
    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""
    padding: bytes = b""

    def to_bytes(self) -> bytes:
        body = struct.pack(
            "!IQIII", self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
        )
        body += b"".join(r.to_bytes() for r in self.reports) + self.extension
        return _rtcp_packet(len(self.reports), RTCP_SR, body, self.padding)


@dataclass(slots=True, kw_only=True)
class RtcpReceiverReport:
    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""
    padding: bytes = b""

    def to_bytes(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(r.to_bytes() for r in self.reports) + self.extension
        return _rtcp_packet(len(self.reports), RTCP_RR, body, self.padding)


@dataclass(slots=True, kw_only=True)
class SdesChunk:
    ssrc: int
    items: list[tuple[int, bytes]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        body = struct.pack("!I", self.ssrc)
        body += b"".join(bytes((item_type, len(value))) + value for item_type, value in self.items)
        body += b"\x00"  # end of items
        return body + b"\x00" * (-len(body) % 4)


@dataclass(slots=True, kw_only=True)
class RtcpSourceDescription:
    chunks: list[SdesChunk] = field(default_factory=list)
    padding: bytes = b""

    def to_bytes(self) -> bytes:
        return _rtcp_packet(len(self.chunks), RTCP_SDES, b"".join(c.to_bytes() for c in self.chunks), self.padding)


@dataclass(slots=True, kw_only=True)
class RtcpBye:
    sources: list[int] = field(default_factory=list)
    reason: bytes | None = None
    padding: bytes = b""

    def to_bytes(self) -> bytes:
        body = struct.pack(f"!{len(self.sources)}I", *self.sources)
        if self.reason is not None:
            reason = bytes((len(self.reason),)) + self.reason
            body += reason + b"\x00" * (-len(reason) % 4)
        return _rtcp_packet(len(self.sources), RTCP_BYE, body, self.padding)


@dataclass(slots=True, kw_only=True)
class RtcpFeedback:
    """A transport-layer (RTPFB, 205) or payload-specific (PSFB, 206) feedback message:
    NACK, transport-cc, PLI, FIR, REMB... The FCI stays raw; helpers below read it."""

    packet_type: int
    fmt: int
    sender_ssrc: int
    media_ssrc: int
    fci: bytes = b""
    padding: bytes = b""

    def to_bytes(self) -> bytes:
        return _rtcp_packet(
            self.fmt, self.packet_type, struct.pack("!II", self.sender_ssrc, self.media_ssrc) + self.fci, self.padding
        )

    @property
    def is_nack(self) -> bool:
        return self.packet_type == RTCP_RTPFB and self.fmt == RTPFB_NACK

    @property
    def is_keyframe_request(self) -> bool:
        return self.packet_type == RTCP_PSFB and self.fmt in (PSFB_PLI, PSFB_FIR)

    @property
    def is_remb(self) -> bool:
        return self.packet_type == RTCP_PSFB and self.fmt == PSFB_REMB and self.fci[:4] == b"REMB"


@dataclass(slots=True, kw_only=True)
class RtcpOther:
    """Any other RTCP packet (APP, XR...), kept whole so it serialises back unchanged."""

    packet_type: int
    count: int
    body: bytes
    padding: bytes = b""

    def to_bytes(self) -> bytes:
        return _rtcp_packet(self.count, self.packet_type, self.body, self.padding)


RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpSourceDescription | RtcpBye | RtcpFeedback | RtcpOther


def _rtcp_packet(count: int, packet_type: int, body: bytes, padding: bytes) -> bytes:
    length = len(body) + len(padding)
    if length % 4:
        raise PacketError(f"RTCP packet body of {length} bytes is not a whole number of words")
    first = (RTP_VERSION << 6) | (0x20 if padding else 0) | count
    return _RTCP_HEADER.pack(first, packet_type, length // 4) + body + padding


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Split a compound RTCP datagram into its packets; raises PacketError when malformed."""
    packets: list[RtcpPacket] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise PacketError("RTCP packet shorter than its header")
        first, packet_type, words = _RTCP_HEADER.unpack_from(data, pos)
        if first >> 6 != RTP_VERSION:
            raise PacketError(f"RTCP version {first >> 6}, expected 2")
        end = pos + 4 + 4 * words
        if end > len(data):
            raise PacketError("RTCP packet runs past the datagram")
        body = data[pos + 4 : end]
        padding = b""
        if first & 0x20:
            if not body or body[-1] == 0 or body[-1] > len(body):
                raise PacketError("RTCP padding longer than the packet")
            padding = body[-body[-1] :]
            body = body[: -body[-1]]
        packets.append(_parse_rtcp_body(packet_type, first & 0x1F, body, padding))
        pos = end
    return packets


def _parse_rtcp_body(packet_type: int, count: int, body: bytes, padding: bytes) -> RtcpPacket:
    if packet_type == RTCP_SR:
        if len(body) < 24 + 24 * count:
            raise PacketError("RTCP SR shorter than its report blocks")
        ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", body)
        reports = [ReportBlock.parse(body, 24 + 24 * i) for i in range(count)]
        return RtcpSenderReport(
            ssrc=ssrc,
            ntp_timestamp=ntp,
            rtp_timestamp=rtp_ts,
            packet_count=packets,
            octet_count=octets,
            reports=reports,
            extension=body[24 + 24 * count :],
            padding=padding,
        )
    if packet_type == RTCP_RR:
        if len(body) < 4 + 24 * count:
            raise PacketError("RTCP RR shorter than its report blocks")
        (ssrc,) = struct.unpack_from("!I", body)
        reports = [ReportBlock.parse(body, 4 + 24 * i) for i in range(count)]
        return RtcpReceiverReport(ssrc=ssrc, reports=reports, extension=body[4 + 24 * count :], padding=padding)
    if packet_type == RTCP_SDES:
        return RtcpSourceDescription(chunks=_parse_sdes_chunks(body, count), padding=padding)
    if packet_type == RTCP_BYE:
        if len(body) < 4 * count:
            raise PacketError("RTCP BYE shorter than its source list")
        sources = list(struct.unpack_from(f"!{count}I", body))
        reason = None
        if len(body) > 4 * count:
            length = body[4 * count]
            reason = body[4 * count + 1 : 4 * count + 1 + length]
        return RtcpBye(sources=sources, reason=reason, padding=padding)
    if packet_type in (RTCP_RTPFB, RTCP_PSFB):
        if len(body) < 8:
            raise PacketError("RTCP feedback shorter than its SSRCs")
        sender_ssrc, media_ssrc = struct.unpack_from("!II", body)
        return RtcpFeedback(
            packet_type=packet_type,
            fmt=count,
            sender_ssrc=sender_ssrc,
            media_ssrc=media_ssrc,
            fci=body[8:],
            padding=padding,
        )
    return RtcpOther(packet_type=packet_type, count=count, body=body, padding=padding)


def _parse_sdes_chunks(body: bytes, count: int) -> list[SdesChunk]:
    chunks = []
    pos = 0
    for _ in range(count):
        if pos + 4 > len(body):
            raise PacketError("RTCP SDES chunk cut short")
        (ssrc,) = struct.unpack_from("!I", body, pos)
        pos += 4
        items = []
        while True:
            if pos >= len(body):
                raise PacketError("RTCP SDES items not terminated")
            item_type = body[pos]
            if item_type == 0:
                pos += 1
                pos += -pos % 4
                break
            if pos + 2 > len(body) or pos + 2 + body[pos + 1] > len(body):
                raise PacketError("RTCP SDES item runs past the packet")
            length = body[pos + 1]
            items.append((item_type, body[pos + 2 : pos + 2 + length]))
            pos += 2 + length
        chunks.append(SdesChunk(ssrc=ssrc, items=items))
    return chunks


def serialize_rtcp(packets: list[RtcpPacket]) -> bytes:
    return b"".join(packet.to_bytes() for packet in packets)


# --- feedback helpers ---


def nack_sequence_numbers(fci: bytes) -> list[int]:
    """The sequence numbers a generic NACK (RFC 4585 6.2.1) reports lost; wraps at 65535."""
    lost = []
    for pos in range(0, len(fci) - len(fci) % 4, 4):
        pid, blp = struct.unpack_from("!HH", fci, pos)
        lost.append(pid)
        lost.extend((pid + bit + 1) & 0xFFFF for bit in range(16) if blp & (1 << bit))
    return lost


def nack_fci(sequence_numbers: list[int]) -> bytes:
    """The FCI of a generic NACK reporting these sequence numbers lost."""
    parts = []
    remaining = sorted(set(sequence_numbers), key=lambda s: (s - sequence_numbers[0]) & 0xFFFF)
    while remaining:
        pid = remaining.pop(0)
        blp = 0
        while remaining and 0 < (remaining[0] - pid) & 0xFFFF <= 16:
            blp |= 1 << (((remaining.pop(0) - pid) & 0xFFFF) - 1)
        parts.append(struct.pack("!HH", pid, blp))
    return b"".join(parts)


def generic_nack(*, sender_ssrc: int, media_ssrc: int, sequence_numbers: list[int]) -> RtcpFeedback:
    return RtcpFeedback(
        packet_type=RTCP_RTPFB,
        fmt=RTPFB_NACK,
        sender_ssrc=sender_ssrc,
        media_ssrc=media_ssrc,
        fci=nack_fci(sequence_numbers),
    )


def picture_loss_indication(*, sender_ssrc: int, media_ssrc: int) -> RtcpFeedback:
    return RtcpFeedback(packet_type=RTCP_PSFB, fmt=PSFB_PLI, sender_ssrc=sender_ssrc, media_ssrc=media_ssrc)


def full_intra_request(*, sender_ssrc: int, media_ssrc: int, sequence: int) -> RtcpFeedback:
    fci = struct.pack("!IB3x", media_ssrc, sequence & 0xFF)
    return RtcpFeedback(packet_type=RTCP_PSFB, fmt=PSFB_FIR, sender_ssrc=sender_ssrc, media_ssrc=0, fci=fci)


def fir_media_ssrcs(fci: bytes) -> list[int]:
    """The SSRCs a FIR (RFC 5104 4.3.1) asks keyframes of."""
    return [struct.unpack_from("!I", fci, pos)[0] for pos in range(0, len(fci) - len(fci) % 8, 8)]


def receiver_estimated_maximum_bitrate(*, sender_ssrc: int, bitrate: int, ssrcs: list[int]) -> RtcpFeedback:
    """A REMB message (draft-alvestrand-rmcat-remb): `bitrate` as an 18-bit mantissa and
    a 6-bit exponent, rounded down."""
    exponent = 0
    while bitrate >> exponent >= 1 << 18:
        exponent += 1
    mantissa = bitrate >> exponent
    fci = b"REMB" + bytes((len(ssrcs), (exponent << 2) | (mantissa >> 16), (mantissa >> 8) & 0xFF, mantissa & 0xFF))
    fci += struct.pack(f"!{len(ssrcs)}I", *ssrcs)
    return RtcpFeedback(packet_type=RTCP_PSFB, fmt=PSFB_REMB, sender_ssrc=sender_ssrc, media_ssrc=0, fci=fci)


def remb_bitrate(fci: bytes) -> tuple[int, list[int]]:
    """The bitrate (bps) and SSRCs of a REMB message's FCI."""
    if len(fci) < 8 or fci[:4] != b"REMB":
        raise PacketError("not a REMB message")
    count = fci[4]
    exponent = fci[5] >> 2
    mantissa = ((fci[5] & 0x03) << 16) | (fci[6] << 8) | fci[7]
    if len(fci) < 8 + 4 * count:
        raise PacketError("REMB message shorter than its SSRC list")
    return mantissa << exponent, list(struct.unpack_from(f"!{count}I", fci, 8))
