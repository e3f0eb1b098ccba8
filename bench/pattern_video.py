"""The video the media benchmarks' publishers replay: a VP8 test pattern, encoded once with
PyAV into a file and then sent packet by packet, so that publishing costs no encoding."""

from pathlib import Path

import av

FRAME_RATE = 30


def encode_pattern_video(path: Path, *, width: int, height: int, bit_rate: int, seconds: int = 5) -> None:
    """VP8 `width`x`height` at 30 fps and `bit_rate` bit/s, a keyframe every 2 s: ffmpeg's
    testsrc2 pattern with a little moving noise, so that the encoder spends its bitrate.
    Written beside `path` first and renamed, so that an interrupted run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    source = av.open(f"testsrc2=size={width}x{height}:rate={FRAME_RATE},noise=alls=6:allf=t", format="lavfi")
    output = av.open(str(partial), "w", format="webm")
    stream = output.add_stream("libvpx", rate=FRAME_RATE)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.bit_rate = bit_rate
    stream.codec_context.gop_size = 2 * FRAME_RATE
    stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    for count, frame in enumerate(source.decode(video=0)):
        if count == seconds * FRAME_RATE:
            break
        frame.pts = None
        frame.pict_type = av.video.frame.PictureType.NONE  # lavfi marks every frame a keyframe
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)
    output.close()
    source.close()
    partial.rename(path)
