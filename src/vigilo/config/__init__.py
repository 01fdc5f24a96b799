"""Configuration types and loading."""

from vigilo.config.loader import ConfigError, load_settings
from vigilo.config.model import DetectorConfig, Settings, ZoomConfig

__all__ = ["ConfigError", "DetectorConfig", "Settings", "ZoomConfig", "load_settings"]
