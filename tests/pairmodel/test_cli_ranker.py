"""``bundlewise train-ranker`` and ``complements --ranker``: a saved ranker, loaded, explained, refused when wrong."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bundlewise.cli.app import app
from tests.pairmodel.conftest import ingest_shop
from tests.shop import THEMES

runner = CliRunner()
TEA = {f"P{i:03d}" for i in range(len(THEMES["tea"]))}  # the shop's first theme: P000..P005


def _rows(output: str) -> list[list[str]]:
    return [ln.split() for ln in output.splitlines() if ln[:1].isdigit()]


def test_trained_ranker_answers_from_the_theme_with_drivers_and_refuses_what_is_wrong(tmp_path: Path) -> None:
    db = str(ingest_shop(tmp_path))
    out = tmp_path / "ranker"
    r = runner.invoke(app, ["--db", db, "-q", "train-ranker", "--output", str(out), "--label-share", "0.2",
                            "--label-windows", "2"])
    assert r.exit_code == 0, r.output
    assert "ranker trained on 600 baskets" in " ".join(r.output.split())
    assert {p.name for p in out.iterdir()} >= {"ranker.json", "warm.lgb.txt"}

    r = runner.invoke(app, ["--db", db, "-q", "complements", "P000", "-k", "4", "--ranker", str(out)])
    assert r.exit_code == 0, r.output
    rows = _rows(r.output)
    assert len(rows) == 4 and [row[0] for row in rows] == ["1", "2", "3", "4"]
    partners = [row[1] for row in rows]
    assert "P000" not in partners and len(set(partners) & TEA) >= 3  # tea goes with tea
    text = " ".join(r.output.split())
    assert "not a probability" in text and "bought together in" in text and "copurchase" in text
    scores = [float(next(tok for tok in row[2:] if tok.replace(".", "", 1).lstrip("-").isdigit())) for row in rows]
    assert scores == sorted(scores, reverse=True)

    # the same answer twice: the evidence rebuilt from the warehouse, the boosters from their text
    again = runner.invoke(app, ["--db", db, "-q", "complements", "P000", "-k", "4", "--ranker", str(out)])
    assert _rows(again.output) == rows

    bad = runner.invoke(app, ["--db", db, "-q", "train-ranker", "--output", str(tmp_path / "r2"),
                              "--label-share", "2"])
    assert bad.exit_code != 0 and "--label-share" in bad.output and not (tmp_path / "r2").exists()
    text_only = runner.invoke(app, ["--db", db, "-q", "complements", "--text", "tea", "--ranker", str(out)])
    assert text_only.exit_code != 0 and "--ranker" in text_only.output
    missing = runner.invoke(app, ["--db", db, "-q", "complements", "P000", "--ranker", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "no saved ranker" in missing.output

    # a changed booster file is damage, named, with the fix
    booster = out / "warm.lgb.txt"
    booster.write_text(booster.read_text(encoding="utf-8").replace("learning_rate", "learning_ratE", 1),
                       encoding="utf-8")
    damaged = runner.invoke(app, ["--db", db, "-q", "complements", "P000", "--ranker", str(out)])
    assert damaged.exit_code != 0 and "damaged" in damaged.output and "train-ranker" in damaged.output
    assert "Traceback" not in damaged.output
