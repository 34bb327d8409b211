"""The demo company: a synthetic SaaS customer base for demos, tests and benchmarks.

``generate_demo(out_dir, accounts=1000, seed=7, end=None)`` writes 15 months of realistic,
deterministic exports (CRM, product usage, help desk, surveys, billing, …) and a
``healthscore.yaml`` that maps them onto the canonical tables. See ``docs/demo.md``.
"""

from __future__ import annotations

from .generate import DemoError, DemoSummary, Progress, generate_demo

__all__ = ["DemoError", "DemoSummary", "Progress", "generate_demo"]
