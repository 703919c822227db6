"""The ASGI app, settings, authentication, request context and the `helpdesk` CLI."""
