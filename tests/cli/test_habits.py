"""CLI habits a new user expects: global flags after the verb, flags shown as flags, errors that name the
flag, a hint when no rule is found, output names refused before any data is read, verbs in flow order."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import VERBS, app, name_flags

runner = CliRunner()

FLOW = ["datasets", "ingest", "stats", "rejects", "mine", "rules", "embed", "evaluate", "train", "train-ranker",
        "complements", "bundles", "report", "serve", "offers"]


@pytest.fixture
def orders_db(tmp_path: Path, write_csv) -> str:
    db = str(tmp_path / "w.duckdb")
    path = write_csv("o.csv", ["order_id", "product_id"], [["1", "a"], ["1", "b"], ["2", "a"], ["2", "b"],
                                                          ["3", "a"]])
    result = runner.invoke(app, ["ingest", "orders", str(path), "--db", db, "-q"])  # --db and -q after the verb
    assert result.exit_code == 0, result.output
    assert Path(db).exists()
    return db


@pytest.fixture
def baskets(tmp_path: Path) -> Path:
    path = tmp_path / "b.txt"  # a: 4 of 6 baskets, {a, b}: 3 — nothing else is bought twice together
    path.write_text("a,b,c\na,b\na,c\nb,d\na,b,e\nf\n", encoding="utf-8")
    return path


# -- global flags after the verb ---------------------------------------------------------------------------------

def test_db_after_the_verb_works_like_before_it(orders_db: str, tmp_path: Path) -> None:
    after = runner.invoke(app, ["stats", "--db", orders_db])
    before = runner.invoke(app, ["--db", orders_db, "stats"])
    assert after.exit_code == 0, after.output
    assert "baskets 3" in after.output and after.output == before.output
    assert not (tmp_path / "bundlewise.duckdb").exists()


def test_db_after_the_verb_overrides_the_one_before(orders_db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(tmp_path / "missing.duckdb"), "stats", "--db", orders_db])
    assert result.exit_code == 0, result.output


def test_quiet_after_the_verb_hides_the_progress(baskets: Path) -> None:
    loud = runner.invoke(app, ["rules", "--baskets", str(baskets), "--min-support", "0.3"])
    quiet = runner.invoke(app, ["rules", "--baskets", str(baskets), "--min-support", "0.3", "-q"])
    assert loud.exit_code == quiet.exit_code == 0, loud.output + quiet.output
    assert "counting" in loud.output and "counting" not in quiet.output
    assert "rules from 6 baskets" in quiet.output


def test_verbose_after_the_verb_raises_the_log_level(orders_db: str) -> None:
    assert runner.invoke(app, ["stats", "--db", orders_db]).exit_code == 0
    assert logging.getLogger().level == logging.WARNING
    assert runner.invoke(app, ["stats", "--db", orders_db, "-v"]).exit_code == 0
    assert logging.getLogger().level == logging.INFO
    assert runner.invoke(app, ["stats", "--db", orders_db, "-vv"]).exit_code == 0
    assert logging.getLogger().level == logging.DEBUG


def test_sub_verbs_take_the_global_flags_too(tmp_path: Path) -> None:
    result = runner.invoke(app, ["datasets", "load", "nope", "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 1 and "nope" in result.output
    assert "No such option" not in result.output


# -- flags shown as flags ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("verb", [[], *([v] for v in FLOW), ["ingest", "orders"], ["ingest", "products"],
                                  ["ingest", "events"], ["datasets", "list"], ["datasets", "load"]],
                         ids=lambda v: " ".join(v) or "root")
def test_help_shows_no_bool_values(verb: list[str]) -> None:
    result = runner.invoke(app, [*verb, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_verb_help_lists_the_global_options() -> None:
    result = runner.invoke(app, ["stats", "--help"], terminal_width=200)
    assert "Global options" in result.output and "--db" in result.output and "--quiet" in result.output


# -- errors name the flag ----------------------------------------------------------------------------------------

def test_a_config_error_names_the_flag(baskets: Path) -> None:
    result = runner.invoke(app, ["rules", "--baskets", str(baskets), "--min-support", "2"])
    assert result.exit_code == 1
    assert "--min-support is 2.0" in result.output and "min_support" not in result.output


def test_two_flags_in_one_message(baskets: Path) -> None:
    result = runner.invoke(app, ["rules", "--baskets", str(baskets), "--min-len", "3", "--max-len", "2"])
    assert result.exit_code == 1
    assert "--max-len (2) is smaller than --min-len (3)" in result.output


def test_name_flags_leaves_english_words_keywords_and_flags_alone() -> None:
    class Param:
        def __init__(self, name: str, *opts: str):
            self.name, self.opts = name, opts

    class Command:
        params = [Param("min_support", "--min-support"), Param("since", "--since"), Param("top", "--top")]

    message = "min_support is 2 (min_support=); --min-support since top; nmin_support x_min_support"
    assert name_flags(message, Command()) == ("--min-support is 2 (min_support=); --min-support since top; "
                                              "nmin_support x_min_support")
    # config fields spelled otherwise than their flag; one-word names stay (English: segments, since, top)
    assert name_flags("segments must be strings; random_state is -1") == "segments must be strings; --seed is -1"


# -- 0 rules: which threshold to lower ---------------------------------------------------------------------------

def test_no_rules_support_hint(baskets: Path) -> None:
    result = runner.invoke(app, ["-q", "rules", "--baskets", str(baskets), "--min-support", "0.9"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "0 rules" in text and "--min-support 0.9" in text
    assert "most frequent pair is in 3 baskets (support 0.5)" in text  # {a, b}: 3 of 6
    assert "most frequent product is in 4 (support 0.6667)" in text  # a: 4 of 6
    assert "lower --min-support to 0.5 or less" in text


def test_no_rules_confidence_hint(baskets: Path) -> None:
    # at support 3/6 the only itemsets are {a}, {b}, {a, b}: best rule b ⇒ a, confidence 3/4
    result = runner.invoke(app, ["-q", "rules", "--baskets", str(baskets), "--min-support", "0.5",
                                 "--min-confidence", "0.9", "--min-len", "2"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "none --min-confidence 0.9" in text and "highest confidence is 0.75" in text
    assert "lower --min-confidence to 0.75 or less" in text


def test_no_rules_lift_hint(baskets: Path) -> None:
    result = runner.invoke(app, ["-q", "rules", "--baskets", str(baskets), "--min-support", "0.3",
                                 "--min-confidence", "0.5", "--min-lift", "5"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "none --min-lift 5" in text and "highest lift is 1.5" in text  # c ⇒ a: (2/2) / (4/6)


def test_rules_found_print_no_hint(baskets: Path) -> None:
    result = runner.invoke(app, ["-q", "rules", "--baskets", str(baskets), "--min-support", "0.3"])
    assert result.exit_code == 0 and "lower --" not in result.output


# -- output names refused before any data is read ----------------------------------------------------------------

@pytest.mark.parametrize(("argv", "suffix"), [
    (["rules", "--baskets", "missing.txt", "--output", "r.txt"], ".txt"),
    (["rules", "--output", "r.txt"], ".txt"),
    (["bundles", "--output", "plan.txt"], ".txt"),
    (["report", "--output", "r.pdf"], ".pdf"),
    (["rejects", "--output", "x.json"], ".json"),
], ids=["rules-file", "rules-warehouse", "bundles", "report", "rejects"])
def test_output_suffix_refused_before_the_data_is_read(tmp_path: Path, monkeypatch, argv: list[str],
                                                       suffix: str) -> None:
    monkeypatch.chdir(tmp_path)  # no warehouse and no basket file here: reading either would fail differently
    result = runner.invoke(app, ["--db", "none.duckdb", *argv])
    assert result.exit_code == 1, result.output
    assert f"has suffix '{suffix}'; allowed suffixes are" in result.output
    assert "does not exist" not in result.output
    assert not (tmp_path / "none.duckdb").exists()


# -- verbs in the order of the data's flow -----------------------------------------------------------------------

def test_root_help_lists_verbs_in_flow_order() -> None:
    assert list(VERBS) == FLOW
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    lines = [line.strip("│ ").split(" ", 1)[0] for line in result.output.splitlines()]
    listed = [word for word in lines if word in FLOW]
    assert listed == FLOW
