"""Checks of the images, the compose file and the Kubernetes manifests (docs/deploy.md)."""
