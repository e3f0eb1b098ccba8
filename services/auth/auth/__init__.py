"""The auth service: tenants with API keys and a plan, users, login, access tokens."""
