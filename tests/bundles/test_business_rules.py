"""Business rules: every rule rejects what it should with a reason, and bad files say where."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bundlewise.bundles.business_rules import BundleRules
from bundlewise.errors import ConfigError

CATALOG = pd.DataFrame({
    "product_id": ["tent", "pegs", "lamp", "milk", "soap"],
    "category_path": ["Outdoor > Tents", "Outdoor > Accessories", "Outdoor > Lights", "Food > Dairy", "Home"],
    "price": [100.0, 10.0, 30.0, 2.0, 4.0],
    "cost": [60.0, 4.0, 25.0, None, 3.9],
    "stock": [5.0, 0.0, None, 100.0, 10.0],
})


def _cands(*bundles: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({"bundle_id": ["+".join(b) for b in bundles], "products": list(bundles)})


def test_default_rules_keep_all_but_out_of_stock() -> None:
    kept, rejected = BundleRules().apply(_cands(("lamp", "tent"), ("pegs", "tent")), CATALOG)
    assert kept["bundle_id"].tolist() == ["lamp+tent"]
    assert rejected["reason"].tolist() == ["pegs is out of stock (stock 0)"]
    kept, rejected = BundleRules(exclude_out_of_stock=False).apply(_cands(("pegs", "tent")), CATALOG)
    assert len(kept) == 1 and rejected.empty


def test_never_together_excluded_and_required() -> None:
    rules = BundleRules(never_together=(("tent", "lamp"),), exclude_products=("soap",), required_products=("milk",),
                        exclude_out_of_stock=False)
    kept, rejected = rules.apply(_cands(("lamp", "tent"), ("milk", "soap"), ("milk", "tent"), ("lamp", "pegs")),
                                 CATALOG)
    assert kept["bundle_id"].tolist() == ["milk+tent"]
    reasons = dict(zip(rejected["bundle_id"], rejected["reason"], strict=True))
    assert "tent and lamp are never bundled together" in reasons["lamp+tent"] or \
        "lamp and tent are never bundled together" in reasons["lamp+tent"]
    assert "holds none of the required products" in reasons["lamp+tent"]
    assert reasons["milk+soap"] == "soap excluded by the rules"
    assert reasons["lamp+pegs"] == "holds none of the required products"


def test_category_modes_and_allowed_pairs() -> None:
    cands = _cands(("lamp", "tent"), ("milk", "tent"), ("lamp", "milk", "tent"))
    within, _ = BundleRules(category_mode="within").apply(cands, CATALOG)
    assert within["bundle_id"].tolist() == ["lamp+tent"]
    between, rej = BundleRules(category_mode="between").apply(cands, CATALOG)
    assert between["bundle_id"].tolist() == ["milk+tent"]
    assert rej["reason"].iloc[0] == "lamp and tent are in the same category Outdoor"
    # level 2 makes Outdoor > Lights and Outdoor > Tents different categories
    deep, _ = BundleRules(category_mode="between", category_level=2).apply(cands, CATALOG)
    assert deep["bundle_id"].tolist() == ["lamp+tent", "milk+tent", "lamp+milk+tent"]
    allowed = BundleRules(allowed_category_pairs=(("Food", "Outdoor > Tents"),))
    kept, rej = allowed.apply(cands, CATALOG)
    assert kept["bundle_id"].tolist() == ["milk+tent"]
    assert "not an allowed pair" in rej["reason"].iloc[0]


def test_margin_and_discount_rules_on_regular_and_bundle_prices() -> None:
    rules = BundleRules(min_margin_rate=0.3, max_discount=0.2, exclude_out_of_stock=False)
    # at regular prices lamp+tent: (130 - 85) / 130 = 35 %; lamp+pegs: (40 - 29) / 40 = 27.5 %
    kept, rejected = rules.apply(_cands(("lamp", "tent"), ("lamp", "pegs"), ("milk", "tent")), CATALOG)
    assert kept["bundle_id"].tolist() == ["lamp+tent", "milk+tent"]  # milk has no cost: passes
    assert rejected["reason"].tolist() == ["margin rate 28% below the minimum 30%"]
    priced = _cands(("lamp", "tent"), ("soap", "tent")).assign(bundle_price=[125.0, 80.0], discount=[0.04, 0.23])
    kept, rejected = rules.apply(priced, CATALOG)
    assert kept["bundle_id"].tolist() == ["lamp+tent"]  # (125 - 85) / 125 = 32 %
    # soap+tent at 80: (80 - 63.9) / 80 = 20 %, and 23 % off
    assert "discount 23% above the maximum 20%" in rejected["reason"].iloc[0]
    assert "margin rate 20% below the minimum 30%" in rejected["reason"].iloc[0]


def test_rules_from_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "rules.toml"
    toml.write_text('never_together = [["a", "b"]]\ncategory_mode = "between"\nmin_margin_rate = 0.1\n',
                    encoding="utf-8")
    rules = BundleRules.from_file(toml)
    assert rules.never_together == (("a", "b"),) and rules.category_mode == "between"
    js = tmp_path / "rules.json"
    js.write_text(json.dumps({"exclude_products": ["x"], "max_discount": 0.25}), encoding="utf-8")
    assert BundleRules.from_file(js).exclude_products == ("x",)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("r.toml", 'never_togther = [["a", "b"]]', r"r\.toml: unknown bundle rules key\(s\) 'never_togther'; "
                                                 r"allowed keys are .*'never_together'"),
    ("r.toml", 'category_mode = "mixed"', r"r\.toml: category_mode is 'mixed'; allowed values are 'any'"),
    ("r.toml", "min_margin_rate = 2", r"r\.toml: min_margin_rate is 2; it must be a number in \[0, 1\)"),
    ("r.toml", 'never_together = ["a", "b"]', r"r\.toml: never_together entry 'a' is not a pair"),
    ("r.toml", "never_together = [", r"r\.toml is not valid TOML"),
    ("r.json", "[1, 2]", r"r\.json must hold a table/object of keys"),
    ("r.yaml", "a: 1", r"suffix '\.yaml'; allowed suffixes are '\.toml', '\.json'"),
])
def test_bad_rules_files_name_the_file_and_key(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        BundleRules.from_file(path)


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        BundleRules.from_file(tmp_path / "nope.toml")
