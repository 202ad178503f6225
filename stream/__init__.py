"""The I/O shell: settings, the local stack, the Faust app and agents, sinks, the feed."""

from __future__ import annotations

from stream.settings import Settings

__all__ = ["Settings"]
