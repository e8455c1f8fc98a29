"""Read the offer decision log — from a warehouse or from a Parquet/CSV/JSONL file — with one reward per decision.

The columns are those of the warehouse table ``offer_decisions`` (``/work/notes``' contract, migration 5):
``decision_id, ts, placement, session_id, customer_id, context, offer_id, offer_kind, bundle_id,
product_id, discount, propensity, eligible, probabilities, policy, policy_version, slot,
expected_margin``, plus ``reward``.

Reward (the semantics of :func:`bundlewise.offers.rewards.join_rewards`, and of the serving side's
join): the margin of the purchase events that follow the decision within ``window_s`` seconds —
those carrying its ``decision_id``, and those without one credited to the latest slot-0 decision
of the same session (last touch) — where the margin of an event is ``value - cost × quantity -
discount`` (``products.cost``; ``quantity`` and ``discount``, an amount, from the event's
properties when given, else 1 and 0); 0 when nothing follows. ``clicked`` / ``purchased`` say
whether a click / purchase event was credited so. A file carries its own ``reward`` column (a
file of decisions alone has no purchases to join).

Every row is checked: a missing, zero or impossible propensity, probabilities that do not match
the eligible list or do not sum to one, a chosen offer that was not eligible — each refused with
the file (or table), the row and the column.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> frame = pd.DataFrame({"decision_id": ["d1"], "ts": ["2026-01-01 10:00:00"], "placement": ["cart"],
...                       "offer_id": ["none"], "propensity": [0.5], "eligible": ['["none", "x"]'],
...                       "probabilities": ["[0.5, 0.5]"], "reward": [0.0]})
>>> path = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
>>> frame.to_csv(path, index=False)
>>> read_decision_log(path)[["offer_id", "propensity", "reward"]].to_dict("records")
[{'offer_id': 'none', 'propensity': 0.5, 'reward': 0.0}]
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.errors import SourceFileError, WarehouseError
from bundlewise.offers.base import PropensityError, validate_propensities
from bundlewise.offers.rewards import DEFAULT_WINDOW_S

logger = logging.getLogger(__name__)

COLUMNS = ("decision_id", "ts", "placement", "session_id", "customer_id", "context", "offer_id", "offer_kind",
           "bundle_id", "product_id", "discount", "propensity", "eligible", "probabilities", "policy",
           "policy_version", "slot", "expected_margin")
REQUIRED = ("decision_id", "ts", "placement", "offer_id", "propensity", "eligible", "probabilities")
FILE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                 ".json": "jsonl"}
_TOL = 1e-6


def read_decision_log(source: Any, window_s: float = DEFAULT_WINDOW_S, *, validate: bool = True) -> pd.DataFrame:
    """The decision log with a ``reward`` column, one row per decision, in time order.

    Parameters
    ----------
    source : str, Path, Warehouse or DataFrame
        A warehouse file (DuckDB) or an open :class:`~bundlewise.ingest.warehouse.Warehouse`; a
        ``.parquet``, ``.csv`` or ``.jsonl`` file with the same columns and ``reward``; or a DataFrame.
    window_s : float
        Reward window in seconds (warehouse only: a file already carries its rewards).
    validate : bool
        Check propensities and probability vectors (see the module docstring).

    Raises
    ------
    WarehouseError
        The warehouse has no ``offer_decisions`` table (it predates the offer log).
    SourceFileError, PropensityError
        A bad file or a bad row; the message names the file, the row and the column.
    """
    if isinstance(source, pd.DataFrame):
        frame, where, has_reward = source.copy(), "decision log", True
    elif hasattr(source, "con"):
        frame, where, has_reward = _from_warehouse(source, window_s), f"warehouse {source.path!r}", True
    else:
        path = Path(source)
        kind = FILE_SUFFIXES.get(path.suffix.lower())
        if kind is None:
            with _open_read_only(path) as wh:
                frame = _open_decisions(wh, window_s)
            where, has_reward = f"warehouse {str(path)!r}", True
        else:
            frame, where, has_reward = _from_file(path, kind), str(path), False
            # rows are named as ingest names them: CSV by line (header = 1), others 1-based
            return _normalise(frame, where, validate=validate, need_reward=True, first_row=2 if kind == "csv" else 1)
    return _normalise(frame, where, validate=validate, need_reward=not has_reward)


def _is_duckdb(path: Path) -> bool:
    if not path.exists():
        raise SourceFileError(f"decision log {str(path)!r} does not exist; pass a warehouse (--db FILE) or a "
                              f"decision log file (--log FILE: {', '.join(sorted(set(FILE_SUFFIXES)))})")
    with path.open("rb") as fh:
        return fh.read(12)[8:12] == b"DUCK"


def _open_read_only(path: Path):
    from bundlewise.errors import SchemaOutdatedError
    from bundlewise.ingest.warehouse import Warehouse

    if not _is_duckdb(path):
        raise SourceFileError(f"{str(path)!r} is neither a DuckDB warehouse nor a decision log file; allowed "
                              f"suffixes: {', '.join(sorted(FILE_SUFFIXES))}")
    try:
        return Warehouse(path, read_only=True)
    except SchemaOutdatedError as exc:
        raise WarehouseError(f"{exc}; until then it has no 'offer_decisions' table to read") from None


def _from_warehouse(wh, window_s: float) -> pd.DataFrame:
    return _open_decisions(wh, window_s)


def _as_context(value: Any) -> dict:
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def _open_decisions(wh, window_s: float) -> pd.DataFrame:
    con = wh.con
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main'").fetchall()}
    if "offer_decisions" not in tables:
        raise WarehouseError(f"warehouse {wh.path!r} has no 'offer_decisions' table: it predates the offer "
                             "decision log (schema v5) or no offer was ever served from it; serve offers with "
                             "'bundlewise serve' after upgrading, or evaluate a decision log file with --log FILE "
                             "(e.g. from 'bundlewise offers simulate')")
    dec = con.execute("SELECT * FROM offer_decisions ORDER BY ts, decision_id, slot").df()
    dec = _with_journal(wh, dec)
    joined = _warehouse_rewards(con, dec, window_s, tables)
    for c in joined.columns:
        dec[c] = joined[c].to_numpy()
    return dec


def _with_journal(wh, dec: pd.DataFrame) -> pd.DataFrame:
    """Decisions a killed server journaled and no writer has moved into the table yet (read-only opens)."""
    from bundlewise.ingest.journal import JSON_COLUMNS, journal_path, pending_rows

    known = set(dec["decision_id"])
    pending = [r for r in pending_rows(journal_path(wh.path)) if r["decision_id"] not in known]
    if not pending:
        return dec
    extra = pd.DataFrame([{c: (json.dumps(r.get(c)) if c in JSON_COLUMNS else r.get(c)) for c in dec.columns}
                          for r in pending])
    logger.info("%d decisions read from the journal %s (not yet in offer_decisions)", len(extra),
                journal_path(wh.path))
    out = pd.concat([dec, extra.astype(dec.dtypes.to_dict(), errors="ignore")], ignore_index=True)
    return out.sort_values(["ts", "decision_id", "slot"], kind="stable").reset_index(drop=True)


def _warehouse_rewards(con, dec: pd.DataFrame, window_s: float, tables: set[str]) -> pd.DataFrame:
    """``reward, purchased, clicked`` per decision row (see the module docstring for the attribution)."""
    empty = pd.DataFrame({"reward": np.zeros(len(dec)), "purchased": np.zeros(len(dec), dtype=bool),
                          "clicked": np.zeros(len(dec), dtype=bool)})
    if len(dec) == 0:
        return empty
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                      "'events' AND table_schema = 'main'").fetchall()}
    did = ("coalesce(e.decision_id, json_extract_string(e.properties, '$.decision_id'))" if "decision_id" in cols
           else "json_extract_string(e.properties, '$.decision_id')")
    cost = "p.cost" if "products" in tables else "NULL"
    join = "LEFT JOIN products p USING (product_id)" if "products" in tables else ""
    ev = con.execute(f"""
        SELECT e.ts, e.event_type, e.session_id, e.customer_id, e.product_id, {did} AS decision_id,
               coalesce(e.value, 0.0) AS value,
               coalesce(TRY_CAST(json_extract_string(e.properties, '$.quantity') AS DOUBLE), 1.0) AS quantity,
               coalesce(TRY_CAST(json_extract_string(e.properties, '$.discount') AS DOUBLE), 0.0) AS discount,
               {cost} AS cost
        FROM events e {join} WHERE e.event_type IN ('purchase', 'click')""").df()
    if len(ev) == 0:
        return empty
    buy = (ev["event_type"] == "purchase").to_numpy()
    unknown = int(ev.loc[buy, "cost"].isna().sum())
    if unknown:
        logger.info("%d purchase event(s) have no known unit cost: their margin counts the whole value", unknown)
    margin = np.where(buy, ev["value"] - ev["cost"].fillna(0.0) * ev["quantity"] - ev["discount"], 0.0)
    ev = pd.DataFrame({"shopper_id": ev["session_id"].astype(object), "time": _seconds(ev["ts"]),
                       "margin": margin, "buy": buy, "decision_id": ev["decision_id"]})
    t = _seconds(dec["ts"])
    rows = np.full(len(ev), -1, dtype=np.int64)
    # events naming a decision: credited to it inside the window
    pos = pd.Series(np.arange(len(dec)), index=dec["decision_id"].astype(str))
    named = ev["decision_id"].notna().to_numpy()
    hit = ev.loc[named, "decision_id"].astype(str).map(pos)
    rows[np.flatnonzero(named)] = hit.fillna(-1).to_numpy(dtype=np.int64)
    # the others: the latest slot-0 decision of the same session, at or before the event (last touch)
    rest = np.flatnonzero(~named & ev["shopper_id"].notna().to_numpy())
    slot0 = (dec["slot"].fillna(0).to_numpy() == 0) & dec["session_id"].notna().to_numpy()
    if len(rest) and slot0.any():
        d = pd.DataFrame({"shopper_id": dec["session_id"].to_numpy()[slot0].astype(object),
                          "dec_time": t[slot0], "_row": np.flatnonzero(slot0)}).sort_values("dec_time")
        e = pd.DataFrame({"shopper_id": ev["shopper_id"].to_numpy()[rest], "time": ev["time"].to_numpy()[rest],
                          "_ev": rest}).sort_values("time")
        m = pd.merge_asof(e, d, left_on="time", right_on="dec_time", by="shopper_id", direction="backward")
        m = m[m["_row"].notna()]
        rows[m["_ev"].to_numpy(dtype=np.int64)] = m["_row"].to_numpy(dtype=np.int64)
    ok = rows >= 0
    lag = np.where(ok, ev["time"].to_numpy() - t[np.maximum(rows, 0)], -1.0)
    ok &= (lag >= 0) & (lag <= window_s)
    r, b = rows[ok], ev["buy"].to_numpy()[ok]
    n = len(dec)
    return pd.DataFrame({"reward": np.bincount(r, weights=ev["margin"].to_numpy()[ok], minlength=n),
                         "purchased": np.bincount(r[b], minlength=n) > 0,
                         "clicked": np.bincount(r[~b], minlength=n) > 0})


def _seconds(ts: pd.Series) -> np.ndarray:
    return (pd.to_datetime(ts).astype("datetime64[ns]").astype("int64") / 1e9).to_numpy(dtype=float)


def _from_file(path: Path, kind: str) -> pd.DataFrame:
    if not path.exists():
        raise SourceFileError(f"decision log {str(path)!r} does not exist")
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind == "csv":
            return pd.read_csv(path)
        return pd.read_json(path, lines=True)
    except (ValueError, OSError) as exc:
        raise SourceFileError(f"cannot read decision log {str(path)!r} as {kind}: {str(exc).splitlines()[0]}") from None


def _as_list(value: Any, where: str, row: int, column: str) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise SourceFileError(f"{where} row {row + 1}: column {column!r} is {value[:60]!r}, "
                                  "not a JSON list") from None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple) or len(value) == 0:
        raise SourceFileError(f"{where} row {row + 1}: column {column!r} is {value!r}; it must be a non-empty list")
    return list(value)


def _show(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _normalise(frame: pd.DataFrame, where: str, *, validate: bool, need_reward: bool,
               first_row: int = 1) -> pd.DataFrame:
    missing = [c for c in REQUIRED + (("reward",) if need_reward else ()) if c not in frame.columns]
    if missing:
        hint = ("; a decision log file carries its own 'reward' column (write one with 'bundlewise offers "
                "simulate')" if "reward" in missing else "")
        raise SourceFileError(f"{where} lacks column(s) {missing}; it has {list(frame.columns)}{hint}")
    for c in COLUMNS:
        if c not in frame.columns:
            frame[c] = 0 if c == "slot" else None
    frame = frame.reset_index(drop=True)
    try:
        frame["ts"] = pd.to_datetime(frame["ts"])
    except (ValueError, TypeError) as exc:
        raise SourceFileError(f"{where}: column 'ts' holds a value that is not a time ({exc})") from None
    frame["decision_id"] = frame["decision_id"].astype(str)
    off = first_row - 1
    frame["eligible"] = [_as_list(v, where, i + off, "eligible") for i, v in enumerate(frame["eligible"])]
    frame["probabilities"] = [[float(x) for x in _as_list(v, where, i + off, "probabilities")]
                              for i, v in enumerate(frame["probabilities"])]
    frame["context"] = [_as_context(v) for v in frame["context"]]
    reward = pd.to_numeric(frame["reward"], errors="coerce")
    bad = reward.isna() & frame["reward"].notna()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceFileError(f"{where} row {i + first_row}: column 'reward' is {_show(frame['reward'].iat[i])}, "
                              "not a number")
    frame["reward"] = reward.fillna(0.0).astype(float)
    frame["slot"] = pd.to_numeric(frame["slot"], errors="coerce").fillna(0).astype(int)
    if validate:
        _validate(frame, where, first_row)
    return frame.sort_values(["ts", "slot"], kind="stable").reset_index(drop=True)


def _validate(frame: pd.DataFrame, where: str, first_row: int = 1) -> None:
    p = pd.to_numeric(frame["propensity"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(p) | (p <= 0.0) | (p > 1.0 + 1e-12)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PropensityError(f"{where} row {i + first_row} (decision {frame['decision_id'].iat[i]!r}): column "
                              f"'propensity' is {_show(frame['propensity'].iat[i])}; allowed: 0 < p <= 1 "
                              f"({int(bad.sum())} such rows). Off-policy estimates need the exact probability the "
                              "logging policy used")
    validate_propensities(frame)
    for i, (oid, elig, probs, prop) in enumerate(zip(frame["offer_id"], frame["eligible"], frame["probabilities"],
                                                     p, strict=True)):
        if len(elig) != len(probs):
            raise SourceFileError(f"{where} row {i + first_row}: column 'probabilities' has {len(probs)} entries but "
                                  f"'eligible' has {len(elig)}; they must pair up, in order")
        if abs(sum(probs) - 1.0) > 1e-4 or min(probs) < 0:
            raise SourceFileError(f"{where} row {i + first_row}: column 'probabilities' sums to {sum(probs):.6g} "
                                  "(or has a negative entry); it must be a probability vector summing to 1")
        if oid not in elig:
            raise SourceFileError(f"{where} row {i + first_row}: column 'offer_id' is {oid!r}, not in 'eligible' "
                                  f"{elig}")
        if abs(probs[elig.index(oid)] - prop) > 1e-4:
            raise PropensityError(f"{where} row {i + first_row}: column 'propensity' is {prop!r} but "
                                  f"'probabilities' gives {probs[elig.index(oid)]!r} for the chosen offer {oid!r}; "
                                  "they must agree")


def contract_offer_id(sim_offer_id: str, discount: float = 0.0) -> str:
    """The simulator's offer id in the warehouse spelling: ``bundle:<id>@<discount, 2 decimals>``,
    ``complement:<product>``, ``none``.

    >>> contract_offer_id("bundle:bbq@10", 0.1), contract_offer_id("comp:giftwrap")
    ('bundle:bbq@0.10', 'complement:giftwrap')
    """
    if sim_offer_id.startswith("bundle:"):
        return f"{sim_offer_id.split('@')[0]}@{discount:.2f}"
    if sim_offer_id.startswith("comp:"):
        return "complement:" + sim_offer_id.removeprefix("comp:")
    return sim_offer_id


def simulated_log(sim, result, *, policy: str = "unknown", start: str = "2026-01-01") -> pd.DataFrame:
    """A decision log (the contract's columns + ``reward``) from an online run on the shop simulator.

    ``result`` is :func:`bundlewise.offers.experiment.run_online`'s; ``ts`` = ``start`` + the
    simulator's arrival time, one session per shopper, context = segment and cart items; also
    ``clicked`` / ``purchased`` of the shown offer (the simulator's click stage; a purchase counts
    whatever its delay, the reward only inside the window).
    """
    offers = sim.offers_.set_index("offer_id")
    names = {o: contract_offer_id(o, float(offers.at[o, "discount"])) for o in sim.offer_ids_}
    kind = {o: str(offers.at[o, "kind"]) for o in sim.offer_ids_}
    shoppers = sim.shoppers_
    rows = []
    for i, r in enumerate(result.log.rows_):
        probs = r["probabilities"]
        o = r["offer_id"]
        rows.append({"decision_id": f"d-{i}", "ts": pd.Timestamp(start) + pd.Timedelta(seconds=float(r["time"])),
                     "placement": r["placement"], "session_id": f"s-{r['shopper_id']}",
                     "customer_id": f"c-{r['shopper_id']}",
                     "context": json.dumps({"segment": r["segment"],
                                            "cart_items": list(shoppers["cart_items"].iat[i])}),
                     "offer_id": names[o], "offer_kind": kind[o],
                     "bundle_id": offers.at[o, "bundle"] or None if kind[o] == "bundle" else None,
                     "product_id": o.removeprefix("comp:") if kind[o] == "complement" else None,
                     "discount": float(offers.at[o, "discount"]) if kind[o] == "bundle" else None,
                     "propensity": float(r["propensity"]),
                     "eligible": [names[e] for e in probs], "probabilities": [float(v) for v in probs.values()],
                     "policy": policy, "policy_version": r["policy_version"], "slot": 0,
                     "expected_margin": None, "reward": float(result.reward[i])})
    frame = pd.DataFrame(rows)
    shown = sim.impressions(result.offer_index)  # the hidden click stage's outcome of what was shown
    frame["clicked"], frame["purchased"] = shown["clicked"].to_numpy(), shown["purchased"].to_numpy()
    return frame


def write_decision_log(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a decision log as Parquet, CSV or JSONL (by suffix); in CSV the lists are JSON strings."""
    path = Path(path)
    kind = FILE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SourceFileError(f"cannot write a decision log to {str(path)!r}; allowed suffixes: "
                              f"{', '.join(sorted(FILE_SUFFIXES))}")
    out = frame.copy()
    if kind == "csv":
        for c in ("eligible", "probabilities"):
            out[c] = [json.dumps(list(v)) for v in out[c]]
        out.to_csv(path, index=False)
    elif kind == "parquet":
        out.to_parquet(path, index=False)
    else:
        out["ts"] = out["ts"].astype(str)
        out.to_json(path, orient="records", lines=True)
    return path
