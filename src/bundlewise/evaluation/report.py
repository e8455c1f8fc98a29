"""Write an evaluation: a markdown table, a JSON file and an HTML page with plots.

The markdown table is what ``bundlewise evaluate`` prints and what bench/README.md records;
the JSON holds every number (intervals, tuning trials, chosen hyper-parameters); the HTML page
shows metric bars with their intervals, Recall@k curves and warm versus cold side by side.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.evaluation.tuning import BenchmarkResult
from bundlewise.report import HtmlReport, pyplot

HEADLINE = ("recall@10", "recall@20", "ndcg@10", "mrr", "coverage@10", "popularity@10")


def _cell(value: float, low: float, high: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(low, float) and not math.isnan(low):
        return f"{value:.4f} [{low:.4f}, {high:.4f}]"
    return f"{value:.4f}"


def markdown_table(bench: BenchmarkResult, metrics: tuple[str, ...] = HEADLINE) -> str:
    """One row per model and group (warm / cold), 95 % intervals in brackets."""
    table = bench.table(metrics)
    head = "| model | products | " + " | ".join(metrics) + " | fit s |"
    lines = [head, "|" + "---|" * (len(metrics) + 3)]
    for _, row in table.iterrows():
        cells = [_cell(row[m], row[m + "_low"], row[m + "_high"]) for m in metrics]
        lines.append(f"| {row['model']} | {row['group']} | " + " | ".join(cells) + f" | {row['fit_s']:.1f} |")
    return "\n".join(lines)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def to_json(bench: BenchmarkResult, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return _jsonable({
        "split": bench.split,
        "seconds": bench.seconds,
        "results": [{"model": r.model, "params": r.params, "fit_seconds": r.fit_seconds,
                     "recommend_seconds": r.recommend_seconds, "metrics": r.metrics.to_dict("records"),
                     "recall_curve": r.curve.to_dict("records")} for r in bench.results],
        "tuning": [{"family": t.family, "params": t.params, "valid_recall@10": t.value, "seconds": t.seconds}
                   for t in bench.tuning],
        **(extra or {}),
    })


def _bars(table: pd.DataFrame, metric: str) -> Any:
    plt = pyplot()
    models = list(dict.fromkeys(table.model))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.38
    for j, (group, color) in enumerate((("warm", "#3b6ea8"), ("cold", "#e08a2c"))):
        sub = table[table.group == group].set_index("model").reindex(models)
        x = np.arange(len(models)) + (j - 0.5) * width
        vals = sub[metric].to_numpy(dtype=float)
        err = np.vstack([vals - sub[metric + "_low"].to_numpy(dtype=float),
                         sub[metric + "_high"].to_numpy(dtype=float) - vals])
        ax.bar(x, np.nan_to_num(vals), width, label=f"{group} products", color=color,
               yerr=np.nan_to_num(err), capsize=3)
    ax.set_xticks(np.arange(len(models)), models, rotation=20)
    ax.set_ylabel(metric)
    ax.legend(frameon=False)
    ax.set_title(f"{metric} on the test block (95 % bootstrap intervals)")
    return fig


def _curves(bench: BenchmarkResult) -> Any:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, group in zip(axes, ("warm", "cold"), strict=True):
        for res in bench.results:
            c = res.curve[res.curve.group == group]
            ax.plot(c.k, c.recall, marker="o", ms=3, label=res.model)
        ax.set_xscale("log")
        ax.set_xlabel("k")
        ax.set_title(f"Recall@k, {group} products")
    axes[0].set_ylabel("recall")
    axes[1].legend(frameon=False, fontsize=8)
    return fig


RESULT_FILES = ("results.md", "results.json", "report.html")


def is_evaluation_dir(path: str | Path) -> bool:
    """Whether ``path`` holds an earlier evaluation (a ``results.json`` written by :func:`write_report`)."""
    try:
        data = json.loads((Path(path) / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"split", "results", "tuning"} <= set(data)


def check_report_dir(out_dir: str | Path, *, warehouse: str | Path | None = None) -> Path:
    """Refuse an evaluation folder where :func:`write_report` would replace files that are not its own.

    Allowed: a new folder (its parent must exist), or a folder without ``results.md``,
    ``results.json`` and ``report.html``, or one holding an earlier evaluation. Nothing is deleted.
    """
    from bundlewise.outputs import check_output_dir

    def ours(p: Path) -> bool:
        return is_evaluation_dir(p) or not any((p / name).exists() for name in RESULT_FILES)

    return check_output_dir(out_dir, what="evaluation results", ours=ours, warehouse=warehouse,
                            option="--output-dir")


def write_report(bench: BenchmarkResult, out_dir: str | Path, *, title: str,
                 extra: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``results.md``, ``results.json`` and ``report.html`` into ``out_dir``, each atomically.

    Raises
    ------
    OutputError
        ``out_dir`` is refused by :func:`check_report_dir`.
    """
    from bundlewise.outputs import write_text

    out = check_report_dir(out_dir)
    out.mkdir(exist_ok=True)
    md = markdown_table(bench)
    paths = {"markdown": out / "results.md", "json": out / "results.json", "html": out / "report.html"}
    write_text(paths["markdown"], f"# {title}\n\n{md}\n")
    write_text(paths["json"], json.dumps(to_json(bench, extra), indent=2))
    table = bench.table()
    page = HtmlReport(title, "Frequently-bought-together: for every product of a test basket, rank the catalogue "
                             "and score the basket's other products.")
    page.heading("Split").table(pd.DataFrame([bench.split]))
    page.heading("Results (test block)").raw(_md_to_html_table(md))
    for metric in ("recall@10", "ndcg@10", "mrr"):
        page.figure(_bars(table, metric))
    page.heading("Recall@k").figure(_curves(bench))
    page.heading("Chosen hyper-parameters and tuning trials")
    page.table(pd.DataFrame([{"family": t.family, "params": json.dumps(_jsonable(t.params)),
                              "valid recall@10": t.value, "seconds": t.seconds} for t in bench.tuning]))
    page.write(paths["html"])
    return paths


def _md_to_html_table(md: str) -> str:
    import html

    rows = [r.strip("|").split("|") for r in md.splitlines() if r.startswith("|") and not r.startswith("|---")]
    head = "".join(f"<th>{html.escape(c.strip())}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
