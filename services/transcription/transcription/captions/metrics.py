"""The caption workers' Prometheus metrics (each worker's /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

CAPTION_STREAMS = Gauge("webinar_caption_streams", "Audio producers this worker captions now")
CAPTION_LINES = Counter("webinar_caption_lines_total", "Captions pushed, partial or final", ["kind"])
CAPTION_PARTIALS_DROPPED = Counter(
    "webinar_caption_partials_dropped_total",
    "Partial captions not transcribed because the worker was behind (a newer partial or the final line came first)",
)
CAPTION_BACKLOG_SECONDS = Gauge(
    "webinar_caption_backlog_seconds", "Audio of finished utterances waiting to be transcribed, in seconds"
)
CAPTION_TRANSCRIBE_SECONDS = Histogram(
    "webinar_caption_transcribe_seconds",
    "Time to transcribe one utterance, by kind",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10),
)
CAPTION_FINAL_DELAY_SECONDS = Histogram(
    "webinar_caption_final_delay_seconds",
    "From the end of an utterance to its final line",
    buckets=(0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30),
)
CAPTION_STORE_FAILURES = Counter("webinar_caption_store_failures_total", "Final lines whose storing was retried")
