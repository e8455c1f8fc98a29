"""Native load generators for ``bench_serve.py``: Debian's ``hey`` (fixed rate) and ``wrk`` (closed loop).

Both are Go/C programs using a few % of a core at the rates measured, so the server, not the generator,
is what the numbers show (the Python client used a whole core at 500 req/s).

* :func:`hey_rate`: ``hey`` sends to one URL per process, so a rate R over N requests (products or carts)
  is N ``hey -c 1 -q R/N`` processes, one per request, started R/N apart in time so their ticks interleave
  into evenly spaced arrivals of R per second in all. ``-o csv`` gives every answered request's latency,
  so the percentiles are over all of them (exact, 0.1 ms resolution). hey's rate is a ticker per worker:
  a request waits for the previous answer of its worker, so a stall delays the next send instead of
  counting from its scheduled time (mild coordinated omission; at a p99 of a few ms against 40 ms between
  one worker's requests it does not arise). Transport errors are not in hey's CSV: the requests missing
  from ``duration x rate`` are counted as errors ("missing").
* :func:`wrk_closed`: ``wrk -t1 -c C --latency -s rotate.lua``: C connections, each sending its next
  request when the last is answered, rotating through a request list (paths and bodies) in Lua; the
  script's ``done()`` prints requests, errors and p50/p95/p99 as one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROTATE_LUA = r"""
local reqs = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    local m, p, b = line:match("^(%u+)\t([^\t]*)\t(.*)$")
    if b == "" then b = nil end
    reqs[#reqs + 1] = wrk.format(m, p, nil, b)
  end
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %.1f, "p95_us": %.1f, "p99_us": %.1f, "max_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def available() -> dict[str, str | None]:
    return {"hey": shutil.which("hey"), "wrk": shutil.which("wrk"), "taskset": shutil.which("taskset")}


def _pin(cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu] if cpu is not None and shutil.which("taskset") else []


def hey_rate(url: str, requests: list[tuple[str, str, str | None]], rate: float, seconds: float, key: str,
             cpu: str | None = None) -> dict[str, Any]:
    """``rate`` req/s in all for ``seconds``, one hey process per (method, path, json body) in ``requests``."""
    share = rate / len(requests)
    gap = 1.0 / rate  # stagger: process j starts j/rate after the first, so arrivals are evenly spaced
    procs = []
    with tempfile.TemporaryDirectory(prefix="hey_") as tmp:
        for j, (method, path, body) in enumerate(requests):
            cmd = [*_pin(cpu), "hey", "-z", f"{seconds:g}s", "-c", "1", "-q", f"{share:g}", "-m", method,
                   "-H", f"X-API-Key: {key}", "-o", "csv", "-t", "10"]
            if body is not None:
                f = Path(tmp) / f"body{j}.json"
                f.write_text(body, encoding="utf-8")
                cmd += ["-T", "application/json", "-D", str(f)]
            out = (Path(tmp) / f"out{j}.csv").open("wb")
            procs.append((subprocess.Popen([*cmd, url + path], stdout=out, stderr=subprocess.STDOUT), out))
            time.sleep(gap)
        t0 = time.perf_counter()
        lat, codes = [], []
        for j, (p, out) in enumerate(procs):
            p.wait(timeout=seconds + 60)
            out.close()
            for line in (Path(tmp) / f"out{j}.csv").read_text().splitlines():
                parts = line.split(",")
                if len(parts) >= 7 and parts[0][:1].isdigit():
                    lat.append(float(parts[0]))
                    codes.append(int(parts[6]))
        waited = time.perf_counter() - t0
    lat_ms = np.array(lat) * 1000
    codes_a = np.array(codes)
    ok = lat_ms[(codes_a >= 200) & (codes_a < 300)] if len(lat) else lat_ms
    errors = {f"HTTP {c}": int(n) for c, n in zip(*np.unique(codes_a[(codes_a < 200) | (codes_a >= 300)],
                                                              return_counts=True), strict=True)}
    # every worker sends at most share x seconds (its ticker); fewer than 99 % of them: transport errors
    expected = int(share * seconds) * len(requests)
    if len(lat) < 0.99 * expected:
        errors["missing"] = expected - len(lat)
    q = np.percentile(ok, [50, 95, 99]) if len(ok) else [np.nan] * 3
    return {"requests": len(lat), "ok": int(len(ok)), "seconds": seconds, "per_second": len(ok) / seconds,
            "p50_ms": float(q[0]), "p95_ms": float(q[1]), "p99_ms": float(q[2]),
            "max_ms": float(ok.max()) if len(ok) else float("nan"), "errors": errors, "processes": len(requests),
            "wait_after_s": waited}


def wrk_closed(url: str, requests: list[tuple[str, str, str | None]], seconds: float, key: str,
               connections: int = 16, cpu: str | None = None) -> dict[str, Any]:
    """Closed loop: ``connections`` connections rotating through ``requests`` for ``seconds``."""
    with tempfile.TemporaryDirectory(prefix="wrk_") as tmp:
        script, reqs = Path(tmp) / "rotate.lua", Path(tmp) / "requests.tsv"
        script.write_text(ROTATE_LUA, encoding="utf-8")
        reqs.write_text("".join(f"{m}\t{p}\t{b or ''}\n" for m, p, b in requests), encoding="utf-8")
        cmd = [*_pin(cpu), "wrk", "-t1", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--latency",
               "-H", f"X-API-Key: {key}", "-H", "Content-Type: application/json", "-s", str(script), url, "--",
               str(reqs)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    r = json.loads(line[len("WRKJSON "):])
    secs = r["duration_us"] / 1e6
    errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    ok = r["requests"] - r["status"]
    return {"requests": r["requests"], "ok": ok, "seconds": secs, "per_second": ok / secs,
            "p50_ms": r["p50_us"] / 1000, "p95_ms": r["p95_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
            "max_ms": r["max_us"] / 1000, "errors": errors, "connections": connections}
