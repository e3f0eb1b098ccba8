"""The gateway: REST (aiohttp) and Socket.IO (python-socketio) in front of the services."""
