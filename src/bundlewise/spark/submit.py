"""The cluster entry point: ``spark-submit`` (or ``python -m bundlewise.spark.submit``) with Parquet in and out.

Verbs (``--help`` on each)::

    export --db W.duckdb --output lines.parquet          # on a machine with the warehouse (DuckDB)
    pairs  --input lines.parquet --output pairs.parquet [--min-count 5 --half-life-days 30 ...]
    rules  --input lines.parquet --output rules.parquet --min-support 0.001 --min-confidence 0.5 [--max-consequent 2]
    apply  --rules rules.parquet --input lines.parquet --output offers.parquet [-k 10]
    score  --model DIR --input candidates.parquet --output scores.parquet

Every verb but ``export`` touches only Parquet (any path Spark reads: HDFS, S3, a shared folder),
so executors need bundlewise's Python code, numpy, pandas, pyarrow, scipy (and torch for ``score``),
never DuckDB or the C kernels. docs/spark.md shows the ``spark-submit`` lines for standalone, YARN
and Kubernetes. Exit status 1 with a one-line message for anything the user can fix.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bundlewise.errors import BundlewiseError

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bundlewise.spark.submit", description=__doc__.split("\n\n")[0])
    p.add_argument("--master", help="Spark master (default: spark-submit's, $MASTER, else local[2])")
    p.add_argument("--shuffle-partitions", type=int, default=None, help="spark.sql.shuffle.partitions")
    p.add_argument("--mode", default="errorifexists", choices=["errorifexists", "overwrite"],
                   help="when the output exists (default: refuse)")
    verbs = p.add_subparsers(dest="verb", required=True)
    e = verbs.add_parser("export", help="warehouse basket lines -> Parquet (needs DuckDB; run where the file is)")
    e.add_argument("--db", required=True)
    e.add_argument("--output", required=True)
    for name in ("pairs", "rules"):
        v = verbs.add_parser(name, help=f"{name} of basket lines (Parquet) -> Parquet")
        v.add_argument("--input", required=True)
        v.add_argument("--output", required=True)
        v.add_argument("--segment", action="append", default=[])
        v.add_argument("--store", action="append", default=[])
        v.add_argument("--since")
        v.add_argument("--until")
        v.add_argument("--max-basket-size", type=int)
    pairs = verbs.choices["pairs"]
    pairs.add_argument("--min-count", type=int, default=5)
    pairs.add_argument("--half-life-days", type=float)
    pairs.add_argument("--prior", type=float, default=5.0)
    rules = verbs.choices["rules"]
    rules.add_argument("--min-support", type=float, default=0.1)
    rules.add_argument("--min-confidence", type=float, default=0.8)
    rules.add_argument("--min-lift", type=float)
    rules.add_argument("--min-len", type=int, default=1)
    rules.add_argument("--max-len", type=int, default=10)
    rules.add_argument("--max-consequent", type=int, default=1)
    a = verbs.add_parser("apply", help="rules (Parquet) x basket lines (Parquet) -> top-k offers per basket")
    a.add_argument("--rules", required=True)
    a.add_argument("--input", required=True)
    a.add_argument("--output", required=True)
    a.add_argument("-k", type=int, default=10)
    s = verbs.add_parser("score", help="candidate pairs (Parquet: product_id, partner_id) -> scores with a pair model")
    s.add_argument("--model", required=True)
    s.add_argument("--input", required=True)
    s.add_argument("--output", required=True)
    return p


def run(argv: Sequence[str] | None = None) -> int:
    """Run one verb; returns the exit status (0, or 1 with the message on stderr)."""
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except BundlewiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # Spark's own refusals (an existing output, a missing input) are the user's to fix
        if type(exc).__name__ != "AnalysisException":
            raise
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> None:
    if args.verb == "export":
        from bundlewise.ingest.warehouse import Warehouse
        from bundlewise.spark.baskets import export_baskets

        with Warehouse(args.db, read_only=True) as wh:
            export_baskets(wh, args.output)
        return
    from bundlewise.mining.source import BasketQuery
    from bundlewise.spark.baskets import read_lines
    from bundlewise.spark.session import SparkConfig, get_session

    cfg = SparkConfig(master=args.master, **({"shuffle_partitions": args.shuffle_partitions}
                                             if args.shuffle_partitions else {}))
    spark = get_session(cfg)
    if args.verb == "score":
        from bundlewise.spark.scoring import score_pairs

        score_pairs(spark.read.parquet(args.input), args.model).write.mode(args.mode).parquet(args.output)
        return
    lines = read_lines(spark, args.input)
    if args.verb in ("pairs", "rules"):
        query = BasketQuery(tuple(args.segment), tuple(args.store), (), args.since, args.until)
    if args.verb == "pairs":
        from bundlewise.spark.pairs import SparkCoPurchaseStats

        SparkCoPurchaseStats(min_count=args.min_count, half_life_days=args.half_life_days,
                             max_basket_size=args.max_basket_size, prior=args.prior,
                             query=query).fit(lines).write_parquet(args.output, args.mode)
    elif args.verb == "rules":
        from bundlewise.spark.itemsets import SparkAssociationRules

        model = SparkAssociationRules(min_support=args.min_support, min_confidence=args.min_confidence,
                                      min_lift=args.min_lift, min_len=args.min_len, max_len=args.max_len,
                                      max_consequent=args.max_consequent, query=query).fit(lines)
        model.write_parquet(spark, args.output, args.mode)
    else:
        from bundlewise.spark.apply import apply_rules

        rules = spark.read.parquet(args.rules)
        if dict(rules.dtypes).get("consequent") == "string":  # single-product rules from the embedded engine
            from pyspark.sql import functions as F

            rules = rules.withColumn("consequent", F.array("consequent"))
        if "rule_id" not in rules.columns:
            from bundlewise.errors import ConfigError

            raise ConfigError(f"{args.rules} has no rule_id column; write the rules with 'submit rules' (or "
                              "bundlewise.spark.apply.rules_to_spark)")
        apply_rules(rules, lines, args.k).write.mode(args.mode).parquet(args.output)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sys.exit(run())


if __name__ == "__main__":
    main()
