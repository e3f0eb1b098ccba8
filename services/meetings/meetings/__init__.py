"""The meetings service: rooms, meetings, room files."""
