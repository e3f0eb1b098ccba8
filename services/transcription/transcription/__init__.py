"""The transcription service: transcript lines, meeting summaries, Azure Speech tokens."""
