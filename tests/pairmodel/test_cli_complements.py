"""``bundlewise complements`` without a trained model: it answers from co-purchase statistics and says so."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.ingest import Warehouse
from bundlewise.mining import CoPurchaseStats, load_baskets
from tests.pairmodel.conftest import ingest_shop

runner = CliRunner()


def test_complements_without_model_or_mining_run_counts_the_statistics_now(tmp_path: Path) -> None:
    db = str(ingest_shop(tmp_path))  # orders only: no 'mine' run stored, no pair model trained
    r = runner.invoke(app, ["--db", db, "-q", "complements", "P000", "-k", "4", "--model", str(tmp_path / "none")])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "no pair model at" in text and "co-purchase statistics counted now from 600 baskets" in text
    assert "sorted by shrunk lift" in text
    rows = [ln.split() for ln in r.output.splitlines() if ln[:1].isdigit()]
    assert len(rows) == 4 and "P000" not in [row[1] for row in rows]
    # the partners are the statistics' own best, by shrunk lift
    with Warehouse(db) as wh:
        stats = CoPurchaseStats(min_count=2, metric="shrunk_lift").fit(load_baskets(wh))
    ids, _ = stats.recommend(["P000"], k=4)
    assert [row[1] for row in rows] == list(ids[0])
    assert "bought together in" in text and "× chance" in text
