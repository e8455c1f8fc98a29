"""The examples in the docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import bundlewise

MODULES = sorted(m.name for m in pkgutil.walk_packages(bundlewise.__path__, "bundlewise.")
                 if not m.name.endswith("_kernels") and ".cli" not in m.name)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_examples_exist_where_users_start() -> None:
    counts = {name: doctest.testmod(importlib.import_module(name)).attempted for name in (
        "bundlewise.ingest.jobs", "bundlewise.ingest.warehouse", "bundlewise.mining.copurchase",
        "bundlewise.mining.association", "bundlewise.mining.itemsets", "bundlewise.mining.baskets",
        "bundlewise.mining.metrics")}
    assert all(n > 0 for n in counts.values()), counts
