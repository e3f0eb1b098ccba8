"""Live captions: caption workers that receive a tapped audio producer's RTP, cut it into
utterances and transcribe them (Whisper offline, or Azure Speech), pushing captions to
the room and storing final lines as the meeting's transcript (docs/captions.md)."""
