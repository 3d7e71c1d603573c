"""The HTTP/SSE bridge: browsers and scripts as hub devices, over a stateless server.

Nothing here imports Textual. The modules: :mod:`.protocol` (the wire
rules: event ids, frames, validation), :mod:`.app` (the ASGI app,
``create_app``), :mod:`.server` (uvicorn: ``BridgeServer``, ``serve``),
:mod:`.bind` (where it may listen) and :mod:`.cli` (the ``serve`` command).
This package imports none of them, so registering the command costs the
main CLI nothing.
"""
