"""The measure library: one module per signal family, each registering its measures.

The library (and Ibis under it) loads on first use of a name below, or of
:func:`~healthscore.measures.base.get_measure`: scoring with a compiled plan that the store
already holds needs neither (:mod:`healthscore.engine.plan`), and a command that only reads
history starts faster without them.
"""

from __future__ import annotations

import importlib

#: The modules whose import registers the built-in measures.
FAMILY_MODULES = ("advocacy", "enablement", "engagement", "financial", "lifecycle", "manual",
                  "relationship", "roi", "sentiment", "support", "usage")

__all__ = ["REGISTRY", "MeasureContext", "MeasureSpec", "evaluate_measure", "get_measure",
           "load_library", "measure"]


def load_library() -> None:
    """Import every family module (each registers its measures once)."""
    for name in FAMILY_MODULES:
        importlib.import_module(f"healthscore.measures.{name}")


def __getattr__(name: str):
    if name in __all__:
        load_library()
        from healthscore.measures import base

        return getattr(base, name)
    raise AttributeError(f"module 'healthscore.measures' has no attribute {name!r}")
