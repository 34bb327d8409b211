"""Configuration: pydantic models of the workspace file and YAML loading with file:line errors."""

from healthscore.config.models import ColumnMap, CsvOptions, Source, WorkspaceConfig
from healthscore.config.yamlfile import YamlDocument, load_yaml

__all__ = ["ColumnMap", "CsvOptions", "Source", "WorkspaceConfig", "YamlDocument", "load_yaml"]
