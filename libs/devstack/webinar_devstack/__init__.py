"""Development and test tooling: real backing servers and service processes on loopback."""
