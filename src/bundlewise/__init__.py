"""bundlewise: priced product bundles and frequently-bought-together recommendations.

Importing the package does nothing but define names.
"""

from bundlewise._version import __version__
from bundlewise.config import IngestConfig
from bundlewise.errors import (
    BundlewiseError,
    ConfigError,
    DataValidationError,
    NotFittedError,
    SourceFileError,
    UnknownProductError,
    WarehouseError,
)

__all__ = [
    "BundlewiseError",
    "ConfigError",
    "DataValidationError",
    "IngestConfig",
    "NotFittedError",
    "SourceFileError",
    "UnknownProductError",
    "WarehouseError",
    "__version__",
]
