"""Rules on Online Retail: bundlewise vs mlxtend 0.25 (fpgrowth + association_rules, sparse one-hot).

Run: ``python -m bench.bench_rules``. Each contender runs in a fresh process on the same
baskets (Online Retail sales, through bundlewise's ingest: 19,773 invoices), from the
list of baskets to the rules (encoding included), max length 3, one product on the right.
Both rule sets are compared rule by rule (support, confidence, lift to 1e-9).
"""

from __future__ import annotations

import os

from bench._data import online_retail_baskets_file, read_lists
from bench._harness import child_main, measure

MIN_CONFIDENCE = 0.5
MAX_LEN = 3


def _rules_key(antecedent: tuple[str, ...], consequent: str) -> str:
    return "|".join(sorted(antecedent)) + "=>" + consequent


def bundlewise(clock, min_support: str, out: str) -> dict:  # type: ignore[no-untyped-def]
    baskets = read_lists(online_retail_baskets_file())
    _run_ours(WARM_UP, 0.3)  # first-call costs (loading the kernels, thread pools) are not work
    clock.start()
    rules = _run_ours(baskets, float(min_support))
    clock.stop()
    _dump(out, ((a, c, s, cf, li) for a, c, s, cf, li in zip(rules["antecedent"], rules["consequent"],
                                                              rules["support"], rules["confidence"], rules["lift"],
                                                              strict=True)))
    return {"rules": len(rules)}


def _run_ours(baskets: list[list[str]], min_support: float):  # type: ignore[no-untyped-def]
    from bundlewise.mining import AssociationRules, Baskets

    return AssociationRules(min_support=min_support, min_confidence=MIN_CONFIDENCE, min_len=2,
                            max_len=MAX_LEN).fit(Baskets.from_lists(baskets)).rules_


def _run_mlxtend(baskets: list[list[str]], min_support: float):  # type: ignore[no-untyped-def]
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    te = TransactionEncoder()
    onehot = te.fit(baskets).transform(baskets, sparse=True)
    df = pd.DataFrame.sparse.from_spmatrix(onehot, columns=te.columns_)
    frequent = fpgrowth(df, min_support=min_support, use_colnames=True, max_len=MAX_LEN)
    rules = association_rules(frequent, num_itemsets=len(df), metric="confidence", min_threshold=MIN_CONFIDENCE)
    return rules[rules["consequents"].map(len) == 1]


WARM_UP = [["a", "b", "c"], ["a", "b"], ["b", "c"], ["a", "c", "d"]]


def mlxtend(clock, min_support: str, out: str) -> dict:  # type: ignore[no-untyped-def]
    baskets = read_lists(online_retail_baskets_file())
    _run_mlxtend(WARM_UP, 0.3)
    clock.start()
    rules = _run_mlxtend(baskets, float(min_support))
    clock.stop()
    _dump(out, ((tuple(a), next(iter(c)), s, cf, li) for a, c, s, cf, li in zip(
        rules["antecedents"], rules["consequents"], rules["support"], rules["confidence"], rules["lift"],
        strict=True)))
    return {"rules": len(rules)}


def _dump(path: str, rows) -> None:  # type: ignore[no-untyped-def]
    with open(path, "w") as fh:
        for a, c, s, cf, li in rows:
            fh.write(f"{_rules_key(a, c)}\t{s!r}\t{cf!r}\t{li!r}\n")


def _load(path: str) -> dict[str, tuple[float, float, float]]:
    out = {}
    with open(path) as fh:
        for line in fh:
            key, s, cf, li = line.rstrip("\n").split("\t")
            out[key] = (float(s), float(cf), float(li))
    return out


CONTENDERS = {"bundlewise": bundlewise, "mlxtend": mlxtend}


def main() -> None:
    online_retail_baskets_file()  # build the cached baskets once, outside the timings
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    from bench._harness import ROOT

    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    print(f"Online Retail rules, max length {MAX_LEN}, confidence >= {MIN_CONFIDENCE}; median of {repeats} fresh "
          "processes; time = baskets in memory -> rules")
    print(f"{'min support':>11} {'contender':<11}{'rules':>7}{'seconds':>10}{'Δ MiB':>8}{'time ×':>9}{'mem ×':>8}")
    for support in ("0.01", "0.005"):
        res = {}
        for name in CONTENDERS:
            out = str(results_dir / f"rules_{name}_{support}.tsv")
            res[name] = measure("bench_rules", name, repeats=repeats, min_support=support, out=out)
            res[name]["file"] = out
        ours = res["bundlewise"]
        for name, r in res.items():
            print(f"{support:>11} {name:<11}{r['rules']:>7}{r['seconds']:>10.3f}{r['delta_mb']:>8.0f}"
                  f"{r['seconds'] / ours['seconds']:>9.1f}{r['delta_mb'] / max(ours['delta_mb'], 1):>8.1f}")
        a, b = _load(res["bundlewise"]["file"]), _load(res["mlxtend"]["file"])
        worst = max((max(abs(x - y) for x, y in zip(a[k], b[k], strict=True)) for k in a.keys() & b.keys()),
                    default=0.0)
        print(f"{'':>11} same rules: {a.keys() == b.keys()} ({len(a.keys() & b.keys())} shared, "
              f"{len(a.keys() - b.keys())} only ours, {len(b.keys() - a.keys())} only mlxtend); "
              f"max |Δ| support/confidence/lift = {worst:.1e}")


if __name__ == "__main__":
    import sys

    if "--contender" in sys.argv:
        child_main(CONTENDERS, preload=("numpy", "pandas", "scipy.sparse", "pyarrow", "bundlewise.mining",
                                        "mlxtend.frequent_patterns"))
    else:
        main()
