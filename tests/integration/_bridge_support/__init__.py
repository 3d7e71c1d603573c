"""Helpers for the bridge tests: an SSE reader, bridge processes, a tiny CDP client."""
