"""The whiteboard service: one board per room, kept in its own MongoDB database."""
