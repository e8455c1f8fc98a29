"""A small shop warehouse (catalogue, orders, a mining run, a bundle plan file) and live servers over it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bundlewise.config import IngestConfig, MiningConfig
from bundlewise.ingest import Warehouse, ingest_file
from tests.bundles.test_pipeline import build_store

API_KEY = "test-key-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Shop:
    db: Path          # the pristine warehouse: copy it before writing
    plan: Path        # bundlewise bundles --output plan.json of it
    folder: Path

    def copy(self, target: Path) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        dst = target / "shop.duckdb"
        shutil.copyfile(self.db, dst)
        return dst


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    from bundlewise.bundles import BundlePlanConfig, plan_bundles
    from bundlewise.cli.bundles import write_table
    from bundlewise.mining.jobs import mine

    folder = tmp_path_factory.mktemp("serve_shop")
    # the pipeline test's store size: enough weeks of promotions that the plan holds bundles worth running (on
    # 10 weeks x 100 baskets its one bundle rested on a margin of +0.75 per 1,000 with an interval from -22)
    products, orders = build_store(folder)
    db = folder / "shop.duckdb"
    with Warehouse(db) as wh:
        with wh.transaction():
            ingest_file(wh, products, IngestConfig(kind="products"))
            ingest_file(wh, orders, IngestConfig(kind="orders"))
        mine(wh, MiningConfig(min_count=5))
        plan = plan_bundles(wh, BundlePlanConfig.from_dict({"min_count": 10, "n_draws": 4000, "n_boot": 30,
                                                            "portfolio": {"max_bundles": 4}}))
    plan_path = folder / "plan.json"
    write_table(plan, plan_path, everything=False)  # what 'bundlewise bundles --output plan.json' writes
    return Shop(db, plan_path, folder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``bundlewise serve`` as a real uvicorn process on 127.0.0.1; always stopped by the fixture."""

    def __init__(self, db: Path, *args: str, log: Path, root: tuple[str, ...] = ()):
        self.db, self.args, self.log_path, self.root = db, args, log, root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> LiveServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUNDLEWISE_SERVE_")}
        env.pop("BUNDLEWISE_API_KEY", None)
        cmd = [sys.executable, "-m", "bundlewise.cli.app", "--db", str(self.db), *self.root, "serve",
               "--port", str(self.port), *self.args]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[object]:
    """live(db, *flags, root=(root flags,)) -> a started LiveServer; every server started is killed at the end."""
    servers: list[LiveServer] = []

    def _start(db: Path, *args: str, root: tuple[str, ...] = ()) -> LiveServer:
        server = LiveServer(db, *args, log=tmp_path / f"server{len(servers)}.log", root=root)
        servers.append(server)
        return server.start()

    try:
        yield _start
    finally:
        for s in servers:
            s.stop()
