"""The themed synthetic shop's fixtures, shared with tests/pairmodel (one definition, see there)."""

from tests.pairmodel.conftest import shop, shop_wh  # noqa: F401 (fixtures used by name)
