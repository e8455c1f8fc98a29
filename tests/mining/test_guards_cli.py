"""The blow-up guards and date checks through the real CLI: exit 1 with the option to change, never "a bug"."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app

runner = CliRunner()


@pytest.fixture
def wholesale_db(tmp_path: Path, write_csv) -> str:
    """600 ordinary orders and two wholesale orders of 1,200 products each."""
    rng = np.random.default_rng(0)
    items = [f"p{i:04d}" for i in range(2000)]
    rows = []
    for o in range(600):
        rows += [[f"o{o}", p, "2024-01-05"] for p in rng.choice(items[:50], 3, replace=False)]
    for o in range(2):
        rows += [[f"big{o}", p, "2024-01-06"] for p in rng.choice(items, 1200, replace=False)]
    db = str(tmp_path / "w.duckdb")
    result = runner.invoke(app, ["--db", db, "-q", "ingest", "orders",
                                 str(write_csv("o.csv", ["order_id", "product_id", "ordered_at"], rows))])
    assert result.exit_code == 0, result.output
    return db


def test_mine_refuses_huge_baskets_and_the_cap_works(wholesale_db: str) -> None:
    result = runner.invoke(app, ["--db", wholesale_db, "-q", "mine", "--memory-budget", "8MiB"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "internal error" not in text and "--max-basket-size" in text and "'big0' (1,200 products)" in text
    cap = int(re.search(r"--max-basket-size (\d+)", text).group(1))
    assert "would drop 2 baskets" in text
    result = runner.invoke(app, ["--db", wholesale_db, "-q", "mine", "--memory-budget", "8MiB",
                                 "--max-basket-size", str(cap)])
    assert result.exit_code == 0, result.output
    assert "2 left out by the size cap" in result.output


def test_rules_support_zero_is_refused_with_the_budget_message(wholesale_db: str) -> None:
    result = runner.invoke(app, ["--db", wholesale_db, "-q", "rules", "--min-support", "0", "--memory-budget",
                                 "4MiB"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "support 0 (>= 1 of 602 baskets)" in text and "raise --min-support" in text


@pytest.mark.parametrize("verb", ["mine", "rules"])
@pytest.mark.parametrize(("flag", "value"), [("--since", "yesterday"), ("--until", "01/02/2024")])
def test_unparsable_dates_name_the_flag(wholesale_db: str, verb: str, flag: str, value: str) -> None:
    result = runner.invoke(app, ["--db", wholesale_db, "-q", verb, flag, value])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert f"{flag} is '{value}'; write an ISO date such as 2024-01-31" in text and "bug" not in text


def test_a_bad_memory_budget_is_a_clear_error(wholesale_db: str) -> None:
    result = runner.invoke(app, ["--db", wholesale_db, "-q", "mine", "--memory-budget", "lots"])
    assert result.exit_code == 1 and "--memory-budget is 'lots'" in result.output
    result = runner.invoke(app, ["--db", wholesale_db, "-q", "mine", "--memory-budget", "none", "--min-count", "2"])
    assert result.exit_code == 0, result.output
