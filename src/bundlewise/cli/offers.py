"""``bundlewise offers evaluate|simulate``: off-policy estimates of an offer policy on the decision log."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bundlewise.cli._console import STATE, out
from bundlewise.errors import ConfigError

app = typer.Typer(help="Off-policy estimates of offer policies on the decision log; simulated logs.",
                  no_args_is_help=True)

POLICY_NAMES = ("epsilon_greedy", "softmax", "thompson", "linear_thompson")
ALL_ESTIMATORS = "replay,ips,snips,dm,dr,est_snips"

ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Policy parameter KEY=VALUE (e.g. epsilon=0.1); "
                                                                    "repeatable.")]
PolicyOpt = Annotated[str, typer.Option("--policy", help="Policy: " + " | ".join(POLICY_NAMES) + ".")]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_policy(name: str, params: list[str] | None, seed: int) -> Any:
    """The policy ``name`` with ``--param k=v`` values; unknown names and parameters refused with the allowed ones."""
    from bundlewise.offers.policies import make_policy

    if name not in POLICY_NAMES:
        raise ConfigError(f"--policy is {name!r}; allowed: {', '.join(POLICY_NAMES)}")
    from bundlewise.offers.linear import LinearThompson
    from bundlewise.offers.policies import POLICIES

    cls = {**POLICIES, "linear_thompson": LinearThompson}[name]
    allowed = set()
    for klass in cls.__mro__[:-1]:  # not object's
        if "__init__" in vars(klass):
            allowed |= {p for p in inspect.signature(klass.__init__).parameters if p not in ("self", "kwargs")}
    allowed -= {"features", "key", "random_state", "args"}  # callables, tuples, --seed: not a --param
    kwargs: dict[str, Any] = {"random_state": seed}
    for item in params or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--param {item!r} is not KEY=VALUE (e.g. --param epsilon=0.1)")
        if key not in allowed:
            raise ConfigError(f"--param {key!r} is not a parameter of {name}; allowed: {', '.join(sorted(allowed))}")
        kwargs[key] = _value(text)
    policy = make_policy(name, **kwargs)
    policy._ensure_state()  # validates the parameters now, before the log is read
    return policy


@app.command("evaluate")
def evaluate(
    policy: PolicyOpt = "epsilon_greedy",
    param: ParamOpt = None,
    log_file: Annotated[Path | None, typer.Option("--log", help="Decision log file (.parquet, .csv, .jsonl) "
                                                                "instead of the warehouse's offer_decisions.")] = None,
    estimators: Annotated[str, typer.Option("--estimators", help="Comma-separated: " + ALL_ESTIMATORS + ".")
                          ] = ALL_ESTIMATORS,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap replicates for the 95 % intervals.")] = 200,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    split: Annotated[float, typer.Option("--split", help="Share of the decisions (oldest first) the policy learns "
                                                         "from before it is evaluated on the rest.")] = 0.5,
    window_s: Annotated[float, typer.Option("--window-s", help="Reward window in seconds (warehouse).")] = 600.0,
    min_ess: Annotated[float, typer.Option("--min-ess", help="Mark weighted estimates unreliable below this "
                                                             "effective sample size.")] = 200.0,
    output: Annotated[Path | None, typer.Option("--output", help="Also write the table (.csv or .json).")] = None,
) -> None:
    """Off-policy estimates of a policy's margin per decision on the logged decisions, with 95 % bootstrap
    intervals, side by side with the logging policy's observed value."""
    from rich.table import Table

    from bundlewise.offers.logs import read_decision_log
    from bundlewise.offers.offline import offline_evaluate
    from bundlewise.offers.ope import ESTIMATORS

    names = [e.strip() for e in estimators.split(",") if e.strip()]
    unknown = [e for e in names if e not in ESTIMATORS]
    if unknown or not names:
        raise ConfigError(f"--estimators has {unknown or 'nothing'}; allowed: {', '.join(ESTIMATORS)}")
    if output is not None and output.suffix.lower() not in (".csv", ".json"):
        raise ConfigError(f"--output {str(output)!r} must end in .csv or .json")
    target = build_policy(policy, param, seed)
    source = log_file if log_file is not None else Path(STATE.db)
    frame = read_decision_log(source, window_s=window_s)
    table, info = offline_evaluate(frame, target, split=split, estimators=names, n_bootstrap=bootstrap, seed=seed,
                                   min_ess=min_ess)
    out.print(f"{policy} on {source}: learned from {info['n_learned']:,} decisions, evaluated on "
              f"{info['n_evaluated']:,}; effective sample size of the weights {info['ess']:,.0f}")
    t = Table("estimator", "margin / decision", "95% interval", "vs logging", "note", box=None, pad_edge=False)
    for _, r in table.iterrows():
        t.add_row(r["estimator"], f"{r['value']:.4f}", f"[{r['low']:.4f}, {r['high']:.4f}]", f"{r['vs_logging']:.3f}",
                  "" if r["reliable"] else f"unreliable: {r['why']}")
    out.print(t)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.suffix.lower() == ".csv":
            table.to_csv(output, index=False)
        else:
            output.write_text(json.dumps({"policy": policy, "source": str(source), **{k: v for k, v in info.items()},
                                          "estimates": table.to_dict("records")}, indent=2, default=str))
        out.print(f"wrote {output}")


@app.command("simulate")
def simulate(
    output: Annotated[Path, typer.Option("--output", help="Decision log to write (.parquet, .csv, .jsonl).")
                      ] = Path("offer_log.parquet"),
    impressions: Annotated[int, typer.Option("--impressions", help="Shoppers (one decision each).")] = 20_000,
    policy: PolicyOpt = "epsilon_greedy",
    param: ParamOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    drift_at: Annotated[float, typer.Option("--drift-at", help="Share of the horizon where the season changes "
                                                               "(1 = never).")] = 0.5,
) -> None:
    """Run the shop simulator under a logging policy and write its decision log (to try 'offers evaluate')."""
    from bundlewise.offers.experiment import run_online
    from bundlewise.offers.logs import FILE_SUFFIXES, simulated_log, write_decision_log
    from bundlewise.offers.shopsim import OfferShopSimulator

    if output.suffix.lower() not in FILE_SUFFIXES:
        raise ConfigError(f"--output {str(output)!r} must end in one of {', '.join(sorted(FILE_SUFFIXES))}")
    if impressions < 1:
        raise ConfigError(f"--impressions is {impressions}; it must be >= 1")
    logger = build_policy(policy, param if param else (["epsilon=0.3"] if policy == "epsilon_greedy" else None), seed)
    sim = OfferShopSimulator(n_impressions=impressions, drift_at=drift_at, random_state=seed)
    res = run_online(sim, logger, seed=seed)
    frame = simulated_log(sim, res, policy=policy)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_decision_log(frame, output)
    out.print(f"simulated {impressions:,} decisions under {policy}; observed margin per decision "
              f"{res.reward.mean():.4f}; wrote {output}")


def register(holder: typer.Typer) -> None:
    holder.add_typer(app, name="offers")
