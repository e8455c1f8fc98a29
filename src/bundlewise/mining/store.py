"""Mining results in the warehouse (pair_stats, itemsets, rules, mining_runs) and rule files.

Each run replaces the previous results of its kind in one transaction (the run history
stays in ``mining_runs``), so readers never see half of a run.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bundlewise.mining.itemsets import Itemsets
from bundlewise.outputs import atomic_write, check_output, neutralise_frame

if TYPE_CHECKING:  # DuckDB is loaded by whoever opens a warehouse, not by mining a basket file
    from bundlewise.ingest.warehouse import Warehouse

PAIR_COLUMNS = ["product_a", "product_b", "n_ab", "n_a", "n_b", "support", "confidence_ab", "confidence_ba", "lift",
                "leverage", "conviction_ab", "conviction_ba", "jaccard", "cosine", "npmi", "shrunk_lift", "p_value",
                "neg_log10_p", "q_value"]


def _new_run(wh: Warehouse, kind: str, params: dict[str, object], n_baskets: int, n_items: int, n_dropped: int,
             n_results: int, seconds: float) -> int:
    run_id = int(wh.con.execute("SELECT nextval('mining_run_seq')").fetchall()[0][0])
    wh.con.execute("INSERT INTO mining_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [run_id, kind, json.dumps(params, default=str), n_baskets, n_items, n_dropped, n_results, seconds,
                    datetime.now()])
    return run_id


def save_pairs(wh: Warehouse, pairs: pd.DataFrame, itemsets: Itemsets | None, params: dict[str, object],
               n_baskets: int, n_items: int, n_dropped: int, seconds: float) -> int:
    """Replace the stored pair statistics (and itemsets) with this run's; return its run id."""
    frame = pairs.rename(columns={"item_a": "product_a", "item_b": "product_b"})[PAIR_COLUMNS]
    with wh.transaction():
        run_id = _new_run(wh, "pairs", params, n_baskets, n_items, n_dropped, len(frame), seconds)
        wh.con.execute("DELETE FROM pair_stats")
        wh.con.register("_bw_pairs", pa.Table.from_pandas(frame, preserve_index=False))
        wh.con.execute(f"INSERT INTO pair_stats SELECT {run_id}, * FROM _bw_pairs")
        wh.con.unregister("_bw_pairs")
        wh.con.execute("DELETE FROM itemsets")
        if itemsets is not None:
            sets = itemsets.to_frame()
            table = pa.table({"items": pa.array([list(t) for t in sets["itemset"]], type=pa.list_(pa.string())),
                              "length": sets["length"].astype("int32"), "count": sets["count"].astype("int64"),
                              "support": sets["support"].astype("float64")})
            wh.con.register("_bw_sets", table)
            wh.con.execute(f"INSERT INTO itemsets SELECT {run_id}, * FROM _bw_sets")
            wh.con.unregister("_bw_sets")
    return run_id


def rules_table(rules: pd.DataFrame) -> pa.Table:
    """Rules as Arrow with list columns (antecedent, and consequent as a one-item list)."""
    return pa.table({
        "antecedent": pa.array([list(a) for a in rules["antecedent"]], type=pa.list_(pa.string())),
        "consequent": pa.array([[c] for c in rules["consequent"]], type=pa.list_(pa.string())),
        "support": rules["support"].to_numpy(float), "confidence": rules["confidence"].to_numpy(float),
        "lift": rules["lift"].to_numpy(float), "count": rules["count"].to_numpy("int64"),
    })


def save_rules(wh: Warehouse, rules: pd.DataFrame, params: dict[str, object], n_baskets: int, n_items: int,
               seconds: float) -> int:
    with wh.transaction():
        run_id = _new_run(wh, "rules", params, n_baskets, n_items, 0, len(rules), seconds)
        wh.con.execute("DELETE FROM rules")
        table = pa.table({
            "antecedent": pa.array([list(a) for a in rules["antecedent"]], type=pa.list_(pa.string())),
            "consequent": pa.array(rules["consequent"].astype(str).tolist(), type=pa.string()),
            **{c: rules[c].to_numpy() for c in ("support", "confidence", "lift", "count", "coverage", "leverage",
                                                 "conviction")},
        })
        wh.con.register("_bw_rules", table)
        wh.con.execute(f"INSERT INTO rules SELECT {run_id}, * FROM _bw_rules")
        wh.con.unregister("_bw_rules")
    return run_id


def _braces(items: tuple[str, ...] | list[str]) -> str:
    return "{" + ",".join(items) + "}"


RULE_FILE_SUFFIXES = (".csv", ".parquet")


def write_rules_file(rules: pd.DataFrame, path: str | Path) -> None:
    """CSV (items as ``{a,b}``, like arules) or Parquet (list columns), by the file's extension.

    Columns: antecedent, consequent, support, confidence, lift, count.
    """
    path = check_output(path, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules")
    suffix = path.suffix.lower()
    with atomic_write(path) as tmp:
        if suffix == ".parquet":
            pq.write_table(rules_table(rules), tmp)
        else:  # CSV cells start with "{", never a formula; neutralised anyway, like every CSV a person opens
            out = pd.DataFrame({
                "antecedent": [_braces(a) for a in rules["antecedent"]],
                "consequent": [_braces([c]) for c in rules["consequent"]],
                "support": rules["support"], "confidence": rules["confidence"], "lift": rules["lift"],
                "count": rules["count"],
            })
            neutralise_frame(out).to_csv(tmp, index=False, float_format="%.9g")
