"""Vigilo: self-hosted vision guard (phone watch and face-action liveness)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vigilo")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
