"""Package faces that import their submodules on first use (keeps ``bundlewise --help`` light).

Examples
--------
>>> import types
>>> mod = types.ModuleType("demo")
>>> get, names = lazy_exports("json", {"JSONDecoder": "decoder"}, vars(mod))
>>> get("JSONDecoder").__module__, "JSONDecoder" in names(), "JSONDecoder" in vars(mod)
('json.decoder', True, True)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str], namespace: dict[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: name -> submodule (``where``), cached in ``namespace``."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        namespace[name] = value  # later look-ups find it directly
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
