"""`python -m transcription.captions`: run one caption worker (docs/captions.md)."""

from transcription.captions.process import wire_caption_worker
from transcription.config import TranscriptionConfig
from webinar_runtime.service import run_service


def main() -> None:
    run_service("transcription", TranscriptionConfig, wire_caption_worker)


if __name__ == "__main__":
    main()
