"""The service's offers learn online: rewards joined from purchase events, fed to the policy, and stats.

Reward of a decision (:func:`bundlewise.offers.join_rewards` semantics, the warehouse contract):
the margin of the purchase events credited to it within ``reward_window_s`` after its time, 0
when nothing follows. A purchase line's margin is ``value - cost x quantity - discount``: ``value``
the shelf price of the line (0 when absent), ``cost`` the catalogue's ``products.cost`` (0 when
unknown), ``quantity`` and ``discount`` (the amount taken off) from the event's properties (1 and
0 when absent) — the rule of :func:`bundlewise.offers.logs.read_decision_log`. An event that names a
``decision_id`` is credited to that decision only; one without is credited to the latest slot-0
decision of its ``session_id`` at or before it (last touch). Clicks count the same way (CTR).

Decisions wait in memory until their window has closed (plus one learning interval, for events in
flight); a background task then gives each reward to ``policy.update`` in decision order, and the
policy version (``<policy>:<updates>``) moves on. On start-up the same join runs in SQL over the
warehouse (:func:`joined_log`) and the closed decisions are replayed into a fresh policy, so a
restart resumes where the last run stopped; open ones wait again with the rewards seen so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bundlewise.serve.artefacts import Artefacts
from bundlewise.serve.offers import Catalog, choose, make_policy, now_utc, policy_context
from bundlewise.serve.settings import ServeSettings

log = logging.getLogger(__name__)

JOINED_COLUMNS = ("decision_id", "ts", "offer_id", "offer_kind", "context", "propensity", "explored", "slot",
                  "session_id", "reward", "purchased", "clicked")


def joined_log(con: Any, window_s: float) -> list[tuple[Any, ...]]:
    """Every stored decision with its reward so far, in decision order (columns :data:`JOINED_COLUMNS`).

    ``explored``: the chosen offer was not the one the policy gave the highest probability.
    """
    window = f"to_microseconds(CAST({int(round(window_s * 1e6))} AS BIGINT))"
    return con.execute(f"""
        WITH d AS (SELECT decision_id, ts, session_id, slot FROM offer_decisions),
        ev AS (
            SELECT e.ts, e.event_type, e.session_id, e.decision_id,
                   CASE WHEN e.event_type = 'purchase' THEN coalesce(e.value, 0)
                        - coalesce(p.cost, 0)
                          * coalesce(TRY_CAST(json_extract_string(e.properties, '$.quantity') AS DOUBLE), 1)
                        - coalesce(TRY_CAST(json_extract_string(e.properties, '$.discount') AS DOUBLE), 0)
                   END AS margin
            FROM events e LEFT JOIN products p USING (product_id)
            WHERE e.event_type IN ('purchase', 'click') AND (e.decision_id IS NOT NULL OR e.session_id IS NOT NULL)),
        credited AS (
            SELECT d.decision_id AS did, ev.event_type, ev.margin
            FROM ev JOIN d ON ev.decision_id = d.decision_id
            WHERE ev.ts >= d.ts AND ev.ts <= d.ts + {window}
            UNION ALL
            SELECT s.decision_id, ev.event_type, ev.margin
            FROM (SELECT * FROM ev WHERE decision_id IS NULL) ev
            ASOF JOIN (SELECT * FROM d WHERE slot = 0 AND session_id IS NOT NULL) s
                ON ev.session_id = s.session_id AND ev.ts >= s.ts
            WHERE ev.ts <= s.ts + {window}),
        r AS (SELECT did, coalesce(sum(margin), 0) AS reward, bool_or(event_type = 'purchase') AS purchased,
                     bool_or(event_type = 'click') AS clicked
              FROM credited GROUP BY did)
        SELECT o.decision_id, o.ts, o.offer_id, o.offer_kind, CAST(o.context AS VARCHAR), o.propensity,
               o.propensity < list_max(CAST(o.probabilities AS DOUBLE[])) - 1e-12 AS explored, o.slot, o.session_id,
               coalesce(r.reward, 0.0), coalesce(r.purchased, false), coalesce(r.clicked, false)
        FROM offer_decisions o LEFT JOIN r ON r.did = o.decision_id
        ORDER BY o.ts, o.slot, o.decision_id""").fetchall()


def _number(x: Any, default: float) -> float:
    """A property as a number (what TRY_CAST(... AS DOUBLE) gives in the SQL join), else the default."""
    if isinstance(x, bool) or x is None:
        return default
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


@dataclass
class Pending:
    decision: Any            # bundlewise.offers.Decision, without its probability vector (memory)
    ts: datetime
    session_id: str | None
    slot: int
    reward: float = 0.0
    purchased: bool = False
    clicked: bool = False


class OfferStats:
    """Counters of one offer: impressions, clicks, purchases, explored, and the closed rewards.

    Examples
    --------
    >>> st = OfferStats("bundle")
    >>> st.impressions, st.closed, st.total, st.squares = 4, 4, 6.0, 18.0  # rewards 0, 0, 3, 3
    >>> row = st.row("bundle:a+b@0.10", 8)
    >>> row["margin_per_impression"], row["arm_share"], round(row["margin_low"], 3)
    (1.5, 0.5, -0.197)
    """

    __slots__ = ("kind", "impressions", "clicks", "purchases", "explored", "closed", "total", "squares")

    def __init__(self, kind: str):
        self.kind = kind
        self.impressions = self.clicks = self.purchases = self.explored = self.closed = 0
        self.total = self.squares = 0.0

    def row(self, offer_id: str, all_impressions: int) -> dict[str, Any]:
        n = self.impressions
        mean = self.total / self.closed if self.closed else None
        half = None
        if self.closed > 1 and mean is not None:
            var = max(self.squares / self.closed - mean * mean, 0.0) * self.closed / (self.closed - 1)
            half = 1.96 * math.sqrt(var / self.closed)
        return {"offer_id": offer_id, "kind": self.kind, "impressions": n, "clicks": self.clicks,
                "purchases": self.purchases, "ctr": self.clicks / n if n else None,
                "conversion": self.purchases / n if n else None, "closed": self.closed,
                "margin_per_impression": mean, "margin_low": None if half is None else mean - half,  # type: ignore[operator]
                "margin_high": None if half is None else mean + half,  # type: ignore[operator]
                "arm_share": n / all_impressions if all_impressions else None,
                "exploration_share": self.explored / n if n else None}


class OfferLearner:
    """The policy, the decisions whose window is open, the reward join, the stats."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.policy = make_policy(settings)
        self.window = timedelta(seconds=settings.reward_window_s)
        self.grace = timedelta(seconds=settings.offers_learn_interval_s)
        self.pending: dict[str, Pending] = {}      # insertion (decision) order
        self.sessions: dict[str, list[str]] = {}   # session -> its open slot-0 decisions, oldest first
        self.stats: dict[str, OfferStats] = {}
        self.updates = 0
        self.catalogs: dict[int, Catalog] = {}
        self.restored = 0

    # -- deciding ----------------------------------------------------------------------------------
    def catalog_for(self, art: Artefacts) -> Catalog:
        """The offers of this artefact version (a reload may bring a new plan; the previous one is kept too)."""
        cat = self.catalogs.get(art.version)
        if cat is None:
            cat = Catalog(art, self.settings)
            self.catalogs = {v: c for v, c in self.catalogs.items() if v == art.version - 1} | {art.version: cat}
        return cat

    def estimate(self, offer_id: str, pctx: dict[str, Any]) -> tuple[float, int]:
        """The policy's current mean reward of ``offer_id`` in this context, and the offer's closed decisions."""
        means = getattr(self.policy, "means", None)
        if means is not None:
            mean = float(means(pctx, [offer_id])[offer_id])
        else:  # linear Thompson: the posterior mean of the context's features (x·θ̂)
            pol = self.policy
            idx = pol._index([offer_id])
            mean = float(pol._values(pctx, pol._cell(pctx), idx)[0])
        st = self.stats.get(offer_id)
        return mean, 0 if st is None else st.closed

    def decide(self, art: Artefacts, context: dict[str, Any], k: int) -> tuple[list[dict[str, Any]],
                                                                            list[dict[str, Any]]]:
        """Choose, then hold the decisions as pending (before they are written: events may follow at once)."""
        ts = now_utc()
        answers, rows, decisions = choose(self.policy, self.catalog_for(art), art, context, k,
                                          self.settings.offers_policy, self.estimate, ts)
        for row, d in zip(rows, decisions, strict=True):
            self._hold(row["decision_id"], replace(d, probabilities={}, explanation=""), ts, row["session_id"],
                       row["slot"], row["offer_kind"], row["propensity"] < max(row["probabilities"]) - 1e-12)
        return answers, rows

    def _hold(self, decision_id: str, decision: Any, ts: datetime, session_id: str | None, slot: int,
              kind: str, explored: bool) -> Pending:
        p = self.pending[decision_id] = Pending(decision, ts, session_id, slot)
        if slot == 0 and session_id is not None:
            self.sessions.setdefault(session_id, []).append(decision_id)
        st = self.stats.get(decision.offer_id)
        if st is None:
            st = self.stats[decision.offer_id] = OfferStats(kind)
        st.impressions += 1
        st.explored += bool(explored)
        return p

    def forget(self, rows: list[dict[str, Any]]) -> None:
        """Decisions that could not be written: as if never taken."""
        for r in rows:
            p = self.pending.pop(r["decision_id"], None)
            if p is None:
                continue
            st = self.stats[p.decision.offer_id]
            st.impressions -= 1
            st.explored -= r["propensity"] < max(r["probabilities"]) - 1e-12
            self._unsession(r["decision_id"], p)

    def _unsession(self, decision_id: str, p: Pending) -> None:
        ids = self.sessions.get(p.session_id) if p.session_id is not None else None
        if ids is not None:
            with contextlib.suppress(ValueError):
                ids.remove(decision_id)
            if not ids:
                del self.sessions[p.session_id]  # type: ignore[arg-type]

    # -- rewards -------------------------------------------------------------------------------------
    def on_events(self, rows: list[dict[str, Any]], art: Artefacts | None = None) -> None:
        """Newly committed events (the writer's listener): credit purchases and clicks to open decisions."""
        for e in rows:
            kind = e.get("event_type")
            if kind not in ("purchase", "click"):
                continue
            did = e.get("decision_id")
            if did is None:
                did = self._by_session(e.get("session_id"), e["ts"])
            p = self.pending.get(did) if did is not None else None
            if p is None or not p.ts <= e["ts"] <= p.ts + self.window:
                continue
            st = self.stats[p.decision.offer_id]
            if kind == "click":
                st.clicks += not p.clicked
                p.clicked = True
                continue
            st.purchases += not p.purchased
            p.purchased = True
            p.reward += self._margin(e, art)

    def _by_session(self, session_id: str | None, ts: datetime) -> str | None:
        for did in reversed(self.sessions.get(session_id, ()) if session_id is not None else ()):
            if self.pending[did].ts <= ts:
                return did
        return None

    @staticmethod
    def _margin(e: dict[str, Any], art: Artefacts | None) -> float:
        props = e.get("properties") or {}
        product = art.products.get(e["product_id"]) if art is not None and e.get("product_id") else None
        cost = product.cost if product is not None and product.cost is not None else 0.0
        return float(e.get("value") or 0.0) - cost * _number(props.get("quantity"), 1.0) \
            - _number(props.get("discount"), 0.0)

    def close_due(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Feed the decisions whose window (plus the grace) has closed to the policy (at most ``limit``); how many."""
        cutoff = (now or now_utc()) - self.window - self.grace
        done = []
        for did, p in self.pending.items():
            if p.ts > cutoff or (limit is not None and len(done) >= limit):
                break  # decision order: the rest are younger
            done.append(did)
        for did in done:
            p = self.pending.pop(did)
            self._unsession(did, p)
            self._learn(p)
        return len(done)

    def _learn(self, p: Pending) -> None:
        self.policy.update(p.decision, p.decision.offer_id, p.reward)
        self.updates += 1
        st = self.stats[p.decision.offer_id]
        st.closed += 1
        st.total += p.reward
        st.squares += p.reward * p.reward

    # -- restart -------------------------------------------------------------------------------------
    def restore(self, con: Any) -> int:
        """Replay the warehouse's joined log: closed decisions into the policy, open ones back to pending."""
        from bundlewise.offers import Decision

        cutoff = now_utc() - self.window - self.grace
        rows = joined_log(con, self.settings.reward_window_s)
        for did, ts, offer, kind, ctx, prop, explored, slot, session, reward, purchased, clicked in rows:
            pctx = policy_context(json.loads(ctx) if ctx else {})
            d = Decision(offer, float(prop), {}, "", "", context=pctx)
            p = self._hold(did, d, ts, session, int(slot), kind, bool(explored))
            p.reward, p.purchased, p.clicked = float(reward), bool(purchased), bool(clicked)
            st = self.stats[offer]
            st.purchases += p.purchased
            st.clicks += p.clicked
            if ts <= cutoff:
                self.pending.pop(did)
                self._unsession(did, p)
                self._learn(p)
        self.restored = len(rows)
        log.info("offers: replayed %d decisions from the warehouse (%d learned, %d still in their window)",
                 len(rows), self.updates, len(self.pending))
        return len(rows)

    def version(self) -> str:
        return f"{getattr(self.policy, 'name', 'policy')}:{getattr(self.policy, 'n_updates_', 0)}"

    def stats_out(self) -> dict[str, Any]:
        total = sum(s.impressions for s in self.stats.values())
        explored = sum(s.explored for s in self.stats.values())
        offers = [s.row(o, total) for o, s in sorted(self.stats.items(), key=lambda kv: -kv[1].impressions)]
        return {"policy": self.settings.offers_policy, "policy_version": self.version(), "updates": self.updates,
                "decisions": total, "pending": len(self.pending), "restored": self.restored,
                "reward_window_s": self.settings.reward_window_s,
                "exploration_share": explored / total if total else None, "offers": offers}


LEARN_CHUNK = 64  # updates between yields to the event loop: a request waits at most for one chunk (~1-2 ms)


async def learn_forever(learner: OfferLearner, interval_s: float) -> None:
    """The background task: every ``interval_s`` seconds, learn what has closed, in small chunks."""
    while True:
        await asyncio.sleep(interval_s)
        now, n = now_utc(), LEARN_CHUNK
        while n == LEARN_CHUNK:
            try:
                n = learner.close_due(now, LEARN_CHUNK)
            except Exception:  # never let one bad reward stop learning for good
                log.exception("offers: learning step failed")
                break
            await asyncio.sleep(0)
