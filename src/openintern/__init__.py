"""OpenIntern: an autonomous ML research agent."""

__version__ = "0.1.0"
