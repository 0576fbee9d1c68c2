"""Clients for documentation, GitHub and the open web (see each module)."""
