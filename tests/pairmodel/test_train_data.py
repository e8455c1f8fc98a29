"""``train`` on orders without timestamps: a message about the data, not about a flag nobody gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.errors import ConfigError
from bundlewise.mining import Baskets
from bundlewise.pairmodel.model import PairModel

runner = CliRunner()


def test_pair_model_names_the_missing_order_times() -> None:
    b = Baskets.from_lists([["a", "b"], ["a", "c"], ["b", "c"]])
    ts = np.array(["2024-01-01", "NaT", "NaT"], dtype="datetime64[us]")
    b = Baskets(b.indptr, b.indices, b.item_ids, None, ts)
    catalog = pd.DataFrame({"product_id": ["a", "b", "c"], "title": ["A", "B", "C"]})
    with pytest.raises(ConfigError, match="2 of the 3 baskets have none") as info:
        PairModel().fit(b, catalog)
    assert "ordered_at" in str(info.value) and "--half-life-days" not in str(info.value)


def test_cli_train_without_timestamps(tmp_path: Path, write_csv) -> None:
    rows = [[f"o{i}", p, "Title " + p] for i in range(30) for p in ("a", "b", "c")[: 2 + i % 2]]
    db = str(tmp_path / "w.duckdb")
    result = runner.invoke(app, ["--db", db, "-q", "ingest", "orders",
                                 str(write_csv("o.csv", ["order_id", "product_id", "title"], rows))])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--db", db, "-q", "train", "--output", str(tmp_path / "model")])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "30 of the 30 baskets have none" in text and "ordered_at" in text
    assert "--half-life-days" not in text and "bug" not in text
    assert not (tmp_path / "model").exists()


def test_cli_train_bad_value_names_the_flag(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "-q", "train", "--epochs", "0",
                                 "--output", str(tmp_path / "model")])
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "--epochs is 0; it must be an integer >= 1" in text and "bug" not in text
    result = runner.invoke(app, ["--db", str(tmp_path / "w.duckdb"), "-q", "train", "--volume-weight", "-1"])
    assert "--volume-weight is -1.0; it must be >= 0" in " ".join(result.output.split())
    assert not (tmp_path / "model").exists() and not (tmp_path / "w.duckdb").exists()


def test_train_pair_model_validates_params_through_the_config(wh, tmp_path: Path) -> None:
    from bundlewise.config import PairModelConfig
    from bundlewise.pairmodel.jobs import train_pair_model

    with pytest.raises(ConfigError, match="unknown pair model key\\(s\\) 'epoch'"):
        train_pair_model(wh, tmp_path / "m", params={"epoch": 2})
    with pytest.raises(ConfigError, match="hidden is 0"):
        train_pair_model(wh, tmp_path / "m", params={"hidden": 0})
    with pytest.raises(ConfigError, match="epochs is -1"):
        train_pair_model(wh, tmp_path / "m", params=PairModelConfig().replace(epochs=-1))
    assert not (tmp_path / "m").exists()
