"""The encoders load once per test session (seconds each); tests share them read-only (``minilm`` is in
tests/conftest.py, shared with the pair-model tests)."""

from __future__ import annotations

import pytest

from bundlewise.text import ProductEncoder


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("bundlewise-cache")


@pytest.fixture(scope="session")
def e5(e5_cache) -> ProductEncoder:
    return ProductEncoder(model="multilingual-e5-small", batch_size=16, device="cpu", cache_dir=e5_cache).fit()
