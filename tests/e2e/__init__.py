"""End-to-end tests in headless Chromium (Debian's package) against the running suite."""
