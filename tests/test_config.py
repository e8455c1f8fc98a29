"""Configs are frozen, typed, and reject unknown keys and bad values with the allowed ones listed."""

from __future__ import annotations

import dataclasses

import pytest

from bundlewise.config import IngestConfig, MiningConfig, RulesConfig, parse_mapping
from bundlewise.errors import BundlewiseError, ConfigError


def test_unknown_keys_are_errors_not_silence() -> None:
    with pytest.raises(ConfigError, match="unknown ingest key\\(s\\) 'on_eror'; allowed keys are"):
        IngestConfig.from_dict({"kind": "orders", "on_eror": "skip"})
    with pytest.raises(ConfigError, match="unknown mining key"):
        MiningConfig.from_dict({"min_cnt": 3})
    assert RulesConfig.from_dict({"min_support": 0.01}).min_support == 0.01


def test_frozen() -> None:
    cfg = IngestConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.kind = "events"  # type: ignore[misc]
    assert cfg.replace(kind="events").kind == "events" and cfg.kind == "orders"


def test_bad_values_list_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="kind is 'sales'; allowed values are 'orders', 'products', 'events'"):
        IngestConfig(kind="sales")
    with pytest.raises(ConfigError, match="delimiter is ';;'"):
        IngestConfig(delimiter=";;")
    with pytest.raises(ConfigError, match="max_len is 1; mining stores pairs at least"):
        MiningConfig(max_len=1)


def test_errors_are_also_builtin_errors() -> None:
    err = ConfigError("x")
    assert isinstance(err, BundlewiseError) and isinstance(err, ValueError)


def test_parse_mapping() -> None:
    assert parse_mapping(["order_id=InvoiceNo, product_id = StockCode", "discount=a+b"]) == {
        "order_id": "InvoiceNo", "product_id": "StockCode", "discount": "a+b"}
    with pytest.raises(ConfigError, match="is not FIELD=COLUMN"):
        parse_mapping("order_id")


# ---------------------------------------------------------------- PairModelConfig and the single-default rule
def test_pair_model_config_rejects_unknown_keys_and_bad_values() -> None:
    from bundlewise.config import PairModelConfig

    with pytest.raises(ConfigError, match="unknown pair model key\\(s\\) 'epoch'; allowed keys are .*'epochs'"):
        PairModelConfig.from_dict({"epoch": 3})
    with pytest.raises(ConfigError, match="epochs is 0; it must be an integer >= 1"):
        PairModelConfig(epochs=0)
    with pytest.raises(ConfigError, match="hidden is 1.5; it must be an integer"):
        PairModelConfig(hidden=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="label_share is 1.0; it must be in \\(0, 1\\)"):
        PairModelConfig(label_share=1.0)
    with pytest.raises(ConfigError, match="volume_weight is -0.1; it must be >= 0"):
        PairModelConfig(volume_weight=-0.1)
    with pytest.raises(ConfigError, match="half_life_days is 0; it must be > 0 days, or None"):
        PairModelConfig(half_life_days=0)
    with pytest.raises(ConfigError, match="device is 'gpu'; allowed values are 'cpu', 'cuda'"):
        PairModelConfig(device="gpu")
    assert PairModelConfig(device="cuda:1", half_life_days=None).device == "cuda:1"


def test_pair_model_defaults_are_the_configs() -> None:
    import inspect

    from bundlewise.cli.pairs import train_cmd
    from bundlewise.config import PairModelConfig
    from bundlewise.pairmodel.model import PairModel

    cfg = PairModelConfig()
    init = inspect.signature(PairModel.__init__).parameters
    assert {n for n in init if n != "self"} == set(cfg.to_dict())  # one field per parameter, no more, no fewer
    assert {n: p.default for n, p in init.items() if n != "self"} == cfg.to_dict()
    cli = inspect.signature(train_cmd).parameters
    for option, field_name in [("epochs", "epochs"), ("hidden", "hidden"), ("volume_weight", "volume_weight"),
                               ("max_positives", "max_positives"), ("half_life_days", "half_life_days"),
                               ("seed", "random_state")]:
        assert cli[option].default == getattr(cfg, field_name), option


def test_cli_defaults_are_the_configs() -> None:
    import inspect

    from bundlewise.cli.evaluate import evaluate_cmd
    from bundlewise.cli.mine import mine_cmd, rules_cmd
    from bundlewise.config import EvalConfig

    mine = inspect.signature(mine_cmd).parameters
    for name in ("min_count", "max_len", "half_life_days", "max_basket_size"):
        assert mine[name].default == getattr(MiningConfig(), name), name
    assert mine["memory_budget"].default == "2GiB" and MiningConfig().memory_budget == 2 * 2**30
    rules = inspect.signature(rules_cmd).parameters
    for name in ("min_support", "min_confidence", "min_lift", "min_len", "max_len"):
        assert rules[name].default == getattr(RulesConfig(), name), name
    ev = inspect.signature(evaluate_cmd).parameters
    for option, field_name in [("test_days", "test_days"), ("valid_days", "valid_days"),
                               ("cold_fraction", "cold_fraction"), ("seed", "seed"),
                               ("max_basket_size", "max_basket_size"), ("bootstrap", "n_bootstrap")]:
        assert ev[option].default == getattr(EvalConfig(), field_name), option


def test_bundle_cli_defaults_are_the_configs() -> None:
    import inspect

    from bundlewise.bundles import BundlePlanConfig, PortfolioConstraints, PricingConstraints
    from bundlewise.cli.bundles import bundles_cmd, report_cmd

    plan, pricing, portfolio = BundlePlanConfig(), PricingConstraints(), PortfolioConstraints()
    expected = {"max_discount": pricing.max_discount, "margin_floor": pricing.margin_floor,
                "price_ending": pricing.price_ending, "max_bundles": portfolio.max_bundles,
                "per_product": portfolio.per_product, "category_cap": portfolio.category_cap,
                "brand_cap": portfolio.brand_cap, "min_count": plan.min_count,
                "max_candidates": plan.max_candidates, "max_size": plan.max_size, "seed": plan.random_state}
    for cmd in (bundles_cmd, report_cmd):
        params = inspect.signature(cmd).parameters
        assert {name: params[name].default for name in expected} == expected, cmd.__name__


def test_eval_ks_must_hold_the_tuning_metrics_k() -> None:
    from bundlewise.config import EvalConfig

    # tuning reads recall@10: without 10 in ks every grid point scored NaN and the first one won silently
    with pytest.raises(ConfigError, match="ks is \\(5, 20\\); it must include 10: models are tuned on recall@10"):
        EvalConfig(ks=(5, 20))
    assert EvalConfig(ks=(20, 10)).ks == (20, 10)
