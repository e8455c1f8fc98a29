"""Pair-model checkpoints (issue 10): written only over a new/empty folder or an earlier checkpoint, replaced
atomically, and refused on load when damaged, incompatible or trained on other data.

A tiny model (8-dimensional random "text" vectors, 2 epochs) keeps these tests fast; the real
encoder and training quality are covered by test_pair_model.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.config import IngestConfig
from bundlewise.errors import CheckpointError, OutputError
from bundlewise.ingest import Warehouse, ingest_files, load_catalog
from bundlewise.mining import load_baskets
from bundlewise.pairmodel.io import (
    CHECKPOINT_FILES,
    check_model_data,
    is_checkpoint,
    load_pair_model,
    read_meta,
    save_pair_model,
    warehouse_fingerprint,
)
from tests.shop import write_shop

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """(warehouse path, fitted tiny model, warehouse fingerprint)."""
    from bundlewise.pairmodel.model import PairModel

    folder = tmp_path_factory.mktemp("ckpt")
    db = folder / "shop.duckdb"
    with Warehouse(db) as wh:
        ingest_files(wh, [write_shop(folder / "shop.csv")], IngestConfig(kind="orders"))
        baskets, catalog, fp = load_baskets(wh), load_catalog(wh), warehouse_fingerprint(wh)
    rng = np.random.default_rng(0)
    catalog["embedding"] = [rng.normal(size=8).astype(np.float32) for _ in range(len(catalog))]
    model = PairModel(epochs=2, hidden=8, max_positives=500, n_candidates=10).fit(baskets, catalog)
    return str(db), model, fp


@pytest.fixture
def ckpt(trained, tmp_path: Path) -> Path:
    _, model, fp = trained
    return save_pair_model(model, tmp_path / "pm", warehouse_fp=fp)


def test_sidecar_records_format_version_features_and_fingerprints(ckpt: Path, trained) -> None:
    from bundlewise import __version__
    from bundlewise.pairmodel.features import PAIR_FEATURES

    meta = json.loads((ckpt / "model.json").read_text())
    assert meta["format"] == 1 and meta["bundlewise_version"] == __version__
    assert meta["pair_features"] == list(PAIR_FEATURES) and meta["warehouse_fingerprint"] == trained[2]
    assert set(meta["files"]) == {"model.safetensors", "arrays.npz"}
    assert is_checkpoint(ckpt) and {p.name for p in ckpt.iterdir()} <= CHECKPOINT_FILES


def test_replacing_a_checkpoint_is_atomic_and_leaves_no_temp_folders(ckpt: Path, trained) -> None:
    _, model, fp = trained
    old = (ckpt / "model.json").read_bytes()

    def crash(folder: Path) -> None:
        (folder / "training.html").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_pair_model(model, ckpt, warehouse_fp=fp, also=crash)
    assert (ckpt / "model.json").read_bytes() == old and load_pair_model(ckpt) is not None
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["pm"]  # the temp folder is gone
    save_pair_model(model, ckpt, warehouse_fp="another", also=lambda f: (f / "metrics.json").write_text("{}"))
    assert read_meta(ckpt)["warehouse_fingerprint"] == "another" and (ckpt / "metrics.json").exists()
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["pm"]  # old checkpoint removed only after the swap


def test_save_never_replaces_a_folder_that_is_not_a_checkpoint(trained, tmp_path: Path) -> None:
    _, model, _ = trained
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cv.pdf").write_bytes(b"%PDF")
    with pytest.raises(OutputError, match="not a pair-model checkpoint"):
        save_pair_model(model, docs)
    assert [p.name for p in docs.iterdir()] == ["cv.pdf"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert is_checkpoint(save_pair_model(model, empty))


@pytest.mark.parametrize(("damage", "detail"), [
    (lambda p: (p / "arrays.npz").write_bytes((p / "arrays.npz").read_bytes()[:200]), "arrays.npz has 200 bytes"),
    (lambda p: (p / "model.safetensors").unlink(), "model.safetensors is missing"),
    (lambda p: (p / "model.json").write_text('{"format": 1, "bundlewise_ver'), "model.json is not readable JSON"),
    (lambda p: (p / "model.json").unlink(), "model.json is missing"),
    (lambda p: (p / "model.safetensors").write_bytes(b"\x00garbage"), "model.safetensors has 8 bytes"),
])
def test_a_damaged_checkpoint_says_retrain(ckpt: Path, damage, detail: str) -> None:
    damage(ckpt)
    with pytest.raises(CheckpointError) as info:
        load_pair_model(ckpt)
    assert detail in str(info.value)
    assert str(info.value).endswith(f"retrain with bundlewise train --output {ckpt}")


def test_damage_is_found_without_the_checksums_too(ckpt: Path) -> None:
    meta = json.loads((ckpt / "model.json").read_text())
    del meta["files"]  # an older sidecar: the files themselves must still be parsed safely
    (ckpt / "model.json").write_text(json.dumps(meta))
    (ckpt / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match=r"is damaged \(.*\); retrain with bundlewise train"):
        load_pair_model(ckpt)


def test_arrays_of_another_model_are_refused(ckpt: Path, trained, tmp_path: Path) -> None:
    from bundlewise.pairmodel.model import PairModel

    _, model, fp = trained
    other = PairModel(epochs=1, hidden=8, max_positives=200, n_candidates=5)
    other.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    other.item_counts_ = model.item_counts_ + 1  # trained on other counts
    save_pair_model(other, tmp_path / "other", warehouse_fp=fp)
    (ckpt / "arrays.npz").write_bytes((tmp_path / "other" / "arrays.npz").read_bytes())
    meta = json.loads((ckpt / "model.json").read_text())
    del meta["files"]
    (ckpt / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="arrays.npz does not belong to model.json"):
        load_pair_model(ckpt)


def test_version_and_feature_list_checked(ckpt: Path) -> None:
    meta = json.loads((ckpt / "model.json").read_text())
    (ckpt / "model.json").write_text(json.dumps({**meta, "bundlewise_version": "9.0.0"}))
    with pytest.raises(CheckpointError, match="written by bundlewise 9.0.0"):
        load_pair_model(ckpt)
    (ckpt / "model.json").write_text(json.dumps({**meta, "pair_features": ["log_n_ij"]}))
    with pytest.raises(CheckpointError, match=r"trained on the pair features \['log_n_ij'\]"):
        load_pair_model(ckpt)
    (ckpt / "model.json").write_text(json.dumps({**meta, "format": 7}))
    with pytest.raises(CheckpointError, match="format 7"):
        load_pair_model(ckpt)


def test_other_data_refused_unless_allowed(ckpt: Path, trained, tmp_path: Path) -> None:
    db, _, _ = trained
    with Warehouse(db, read_only=True) as wh:
        assert load_pair_model(ckpt, warehouse=wh) is not None  # its own data
    other = tmp_path / "other.duckdb"
    with Warehouse(other) as wh:
        ingest_files(wh, [write_shop(tmp_path / "other.csv", seed=1)], IngestConfig(kind="orders"))
        with pytest.raises(CheckpointError, match="was trained on other data .* --allow-other-data"):
            load_pair_model(ckpt, warehouse=wh)
        model = load_pair_model(ckpt, warehouse=wh, allow_other_data=True)
        check_model_data(model, wh, allow_other_data=True)


def test_cli_corrupt_checkpoint_exit_1_with_retrain(ckpt: Path, trained) -> None:
    db, _, _ = trained
    (ckpt / "arrays.npz").write_bytes(b"PK\x03\x04 truncated")
    for args in (["complements", "P000", "--model", str(ckpt), "--no-explain"],
                 ["bundles", "--pair-model", str(ckpt), "--min-count", "5"]):
        result = runner.invoke(app, ["--db", db, "-q", *args])
        assert result.exit_code == 1, result.output
        assert f"checkpoint {ckpt} is damaged" in result.output
        assert f"retrain with bundlewise train --output {ckpt}" in result.output


def test_cli_checkpoint_from_other_data_refused_unless_allow_other_data(ckpt: Path, tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    with Warehouse(db) as wh:
        ingest_files(wh, [write_shop(tmp_path / "other.csv", seed=1)], IngestConfig(kind="orders"))
    args = ["--db", str(db), "-q", "complements", "P000", "-k", "3", "--model", str(ckpt), "--no-explain"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "was trained on other data" in result.output, result.output
    assert "--allow-other-data" in result.output
    result = runner.invoke(app, [*args, "--allow-other-data"])
    assert result.exit_code == 0, result.output
    assert "partners for P000" in result.output


def test_interrupted_replacement_is_named_on_load(ckpt: Path) -> None:
    backup = ckpt.parent / ".pm.old-1234abcd"
    ckpt.rename(backup)  # what a kill between the two renames leaves
    with pytest.raises(CheckpointError, match=r"replacement was interrupted .*\.pm\.old-1234abcd: rename it back"):
        load_pair_model(ckpt)
