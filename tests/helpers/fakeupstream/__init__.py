"""A local HTTPS fake of the model APIs fastcap captures (Anthropic, OpenAI, Gemini, kiro, WebSocket)."""

from .server import FakeUpstream

__all__ = ["FakeUpstream"]
