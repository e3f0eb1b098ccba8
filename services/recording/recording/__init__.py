"""The recording service: recording sessions of a room (start, stop, list)."""
