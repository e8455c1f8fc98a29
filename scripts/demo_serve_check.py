"""``make demo``'s last step: start ``bundlewise serve`` briefly, wait for /ready, print one complements answer, stop.

Usage: ``python scripts/demo_serve_check.py --db demo.duckdb [--plan demo_out/bundles.csv] [--timeout 120]``.
The server is a real uvicorn process on 127.0.0.1 (a free port, read-only: ``--no-events``); it is always
stopped (SIGTERM, then SIGKILL after 30 s). Exit status 0 when /ready came and the answer was served, 1
otherwise (the server's last log lines are printed), so the demo never hangs and fails loudly.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (our own server on 127.0.0.1)
        return json.loads(r.read().decode("utf-8"))


def busiest_product(db: str) -> str | None:
    """The product with the most stored pairs (read before the server starts; None without a mining run).

    A file that is no warehouse is None here too: the server then refuses it, and its message is shown.
    """
    from bundlewise.errors import BundlewiseError
    from bundlewise.ingest.warehouse import Warehouse

    try:
        wh = Warehouse(db, read_only=True)
    except BundlewiseError:
        return None
    with wh:
        row = wh.con.execute("SELECT p, count(*) AS n FROM (SELECT product_a AS p FROM pair_stats UNION ALL "
                          "SELECT product_b FROM pair_stats) GROUP BY p ORDER BY n DESC, p LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None  # the server exited (its log says why)
        try:
            return get(url + "/ready", timeout=2.0)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    return None


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return int(proc.returncode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--plan")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds to wait for /ready (default 120)")
    args = parser.parse_args(argv)
    if not Path(args.db).is_file():
        print(f"serve check: warehouse {args.db!r} does not exist; run the demo's earlier steps first",
              file=sys.stderr)
        return 1
    product = busiest_product(args.db)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "bundlewise.cli.app", "--db", args.db, "serve", "--host", "127.0.0.1",
           "--port", str(port), "--no-events", "--no-access-log", *(["--plan", args.plan] if args.plan else [])]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        ok = False
        try:
            t0 = time.monotonic()
            ready = wait_ready(proc, url, args.timeout)
            if ready is None:
                why = f"exited with {proc.returncode}" if proc.poll() is not None else \
                    f"no /ready within {args.timeout:.0f} s"
                print(f"serve check: FAILED, the server {why}", file=sys.stderr)
            else:
                v = ready["versions"]
                plan = v.get("bundle_plan") or {}
                print(f"serve check: /ready in {time.monotonic() - t0:.1f} s on {url} (artefacts v{v['artefacts']}, "
                      f"{v['warehouse']['products']:,} products, {(v.get('pair_stats') or {}).get('pairs', 0):,} "
                      f"pairs, {plan.get('bundles', 0)} bundles)")
                if product is None:
                    print("serve check: no stored pairs to ask complements of (run 'bundlewise mine')")
                else:
                    body = get(f"{url}/v1/products/{urllib.request.quote(product, safe='')}/complements?k=3",
                               timeout=30.0)
                    partners = "; ".join(f"{p['title'] or p['product_id']} (together {p['n_together']:.0f}"
                                         + ("" if p["lift"] is None else f", lift {p['lift']:.1f}") + ")"
                                         for p in body["partners"])
                    print(f"GET /v1/products/{product}/complements?k=3 -> {body['title'] or product}: {partners}")
                ok = True
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            print(f"serve check: FAILED, {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            code = stop(proc)
        if not ok:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace").splitlines()[-20:]
            print("\n".join(["server log (last lines):", *tail]), file=sys.stderr)
            return 1
    print(f"serve check: stopped (exit {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
