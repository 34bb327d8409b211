"""The server: the app factory, the body limit, store access per request and the read cache.

``healthscore serve -w DIR`` runs :func:`create_app` with uvicorn on 127.0.0.1 (``--host`` to
bind elsewhere). Each request opens the store and closes it after (:mod:`.access`), so
``healthscore run`` (the daily job) and other commands can write between requests; reads go
through :class:`~healthscore.server.cache.CachedReader`, one implementation of the reader
interface that :mod:`healthscore.read` is written against. Page sign-in sessions are in
:mod:`.sessions`; whether ``--host`` may bind a non-loopback address in :mod:`.exposure`. See
docs/dashboard.md and docs/api.md.
"""

from healthscore.server.access import reading, writing
from healthscore.server.app import BodyLimit, create_app, serve
from healthscore.server.cache import CACHE, CachedReader

__all__ = ["CACHE", "BodyLimit", "CachedReader", "create_app", "reading", "serve", "writing"]
