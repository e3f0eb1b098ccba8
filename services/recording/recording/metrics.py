"""The recording service's Prometheus metrics of server-side recording (its /metrics)."""

from prometheus_client import Counter, Gauge

RECORDING_ROOMS = Gauge("webinar_recording_rooms", "Rooms this replica records now")
RECORDING_TRACKS = Gauge("webinar_recording_tracks", "Tracks this replica's recorders write now")
RTP_PACKETS = Counter("webinar_recording_rtp_packets_total", "RTP packets the recorders received from taps")
RTP_LOST = Counter(
    "webinar_recording_rtp_lost_total",
    "RTP packets of tapped tracks that never came (gaps in their sequence numbers): none should, on a sound network",
)
FRAMES_WRITTEN = Counter("webinar_recording_frames_total", "Frames written to track files, as encoded", ["kind"])
FRAMES_DROPPED = Counter(
    "webinar_recording_frames_dropped_total", "Video frames left out while a track waited for a keyframe"
)
