"""The measure library: one module per signal family; importing this registers them all."""

from healthscore.measures import (  # noqa: F401  (each module registers its measures)
    advocacy,
    enablement,
    engagement,
    financial,
    lifecycle,
    manual,
    relationship,
    roi,
    sentiment,
    support,
    usage,
)
from healthscore.measures.base import (
    REGISTRY,
    MeasureContext,
    MeasureSpec,
    evaluate_measure,
    get_measure,
    measure,
)

__all__ = ["REGISTRY", "MeasureContext", "MeasureSpec", "evaluate_measure", "get_measure",
           "measure"]
