"""The service runtime: one way to configure, connect, serve, observe and stop a service."""
