"""Sources: reading files into the canonical tables, with validation and a quarantine."""

from healthscore.sources.ingest import IngestReport, SourceReport, ingest

__all__ = ["IngestReport", "SourceReport", "ingest"]
