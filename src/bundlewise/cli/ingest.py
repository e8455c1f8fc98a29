"""``bundlewise ingest orders|products|events FILE…``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bundlewise.cli._console import STATE, open_warehouse, out, progress
from bundlewise.cli._render import print_ingest_results
from bundlewise.config import ON_ERROR_MODES, IngestConfig, parse_mapping
from bundlewise.ingest import ingest_files
from bundlewise.ingest.fields import FIELDS_BY_KIND
from bundlewise.ingest.presets import preset_names

app = typer.Typer(help="Load orders, products or events from CSV/TSV/Parquet/JSONL (gzip too).",
                  no_args_is_help=True)

Files = Annotated[list[Path], typer.Argument(help="One or more files (all loaded in one transaction).",
                                             show_default=False)]
PresetOpt = Annotated[str | None, typer.Option("--preset", help=f"Named mapping: {', '.join(preset_names())}.")]
MapOpt = Annotated[list[str] | None, typer.Option("--map", help="FIELD=COLUMN[,FIELD=COLUMN…]; join columns "
                                                               "with + (e.g. discount=a+b).")]
OnErrorOpt = Annotated[str, typer.Option("--on-error", help=f"{' | '.join(ON_ERROR_MODES)}: fail writes nothing "
                                                            "if a row is rejected; skip loads the valid rows; "
                                                            "quarantine also keeps the rejected ones.")]
EncodingOpt = Annotated[str | None, typer.Option("--encoding", help="Text encoding (default UTF-8; a BOM is "
                                                                    "honoured), e.g. latin-1, cp1252, gbk.")]
DelimOpt = Annotated[str | None, typer.Option("--delimiter", help="Field separator (default from the extension).")]
FormatOpt = Annotated[str, typer.Option("--format", help="auto | csv | tsv | parquet | jsonl | baskets.")]
TsOpt = Annotated[str | None, typer.Option("--timestamp-format", help="strptime format, e.g. '%m/%d/%Y %H:%M', "
                                                                     "or Unix epoch numbers: epoch (unit by size), "
                                                                     "epoch_s, epoch_ms, epoch_us, epoch_ns.")]
MaxOpt = Annotated[int, typer.Option("--max-problems", help="How many rejected rows to list.")]


def _run(kind: str, files: list[Path], preset: str | None, mapping: list[str] | None, on_error: str,
         encoding: str | None, delimiter: str | None, file_format: str, timestamp_format: str | None,
         max_problems: int, **extra: object) -> None:
    cfg = IngestConfig(kind=kind, preset=preset, mapping=parse_mapping(mapping or []), on_error=on_error,
                       encoding=encoding, delimiter=delimiter, file_format=file_format,
                       timestamp_format=timestamp_format, max_problems=max_problems,
                       **{k: v for k, v in extra.items() if v is not None})  # type: ignore[arg-type]
    with open_warehouse("create") as wh, progress() as bars:
        results = ingest_files(wh, files, cfg, bars)
    print_ingest_results(results, STATE.db)


def _fields_help(kind: str) -> str:
    return "Canonical fields: " + ", ".join(
        f"{f.name}{'*' if f.required else ''}" for f in FIELDS_BY_KIND[kind]) + " (* required)."


@app.command("orders", help="Order lines (one row per product in an order). " + _fields_help("orders"))
def orders(
    files: Files,
    preset: PresetOpt = None,
    mapping: MapOpt = None,
    on_error: OnErrorOpt = "fail",
    encoding: EncodingOpt = None,
    delimiter: DelimOpt = None,
    file_format: FormatOpt = "auto",
    timestamp_format: TsOpt = None,
    cancel_prefix: Annotated[str | None, typer.Option(
        "--cancel-prefix", help="Order ids with this prefix are cancellations (online-retail: C).")] = None,
    non_product: Annotated[list[str] | None, typer.Option(
        "--non-product", help="Product code (or glob pattern) of a fee/postage/adjustment; repeatable. "
                              "Replaces the preset's list.")] = None,
    drop_duplicate_lines: Annotated[bool, typer.Option(
        "--drop-duplicate-lines", help="Drop lines that repeat an earlier line exactly.")] = False,
    max_problems: MaxOpt = 20,
) -> None:
    _run("orders", files, preset, mapping, on_error, encoding, delimiter, file_format, timestamp_format,
         max_problems, cancel_prefix=cancel_prefix,
         non_product_codes=tuple(non_product) if non_product else None,
         drop_duplicate_lines=drop_duplicate_lines or None)


@app.command("products", help="A product catalog. " + _fields_help("products"))
def products(
    files: Files,
    preset: PresetOpt = None,
    mapping: MapOpt = None,
    on_error: OnErrorOpt = "fail",
    encoding: EncodingOpt = None,
    delimiter: DelimOpt = None,
    file_format: FormatOpt = "auto",
    max_problems: MaxOpt = 20,
) -> None:
    _run("products", files, preset, mapping, on_error, encoding, delimiter, file_format, None, max_problems)


@app.command("events", help="Behaviour events (views, clicks, offers). " + _fields_help("events"))
def events(
    files: Files,
    preset: PresetOpt = None,
    mapping: MapOpt = None,
    on_error: OnErrorOpt = "fail",
    encoding: EncodingOpt = None,
    delimiter: DelimOpt = None,
    file_format: FormatOpt = "auto",
    timestamp_format: TsOpt = None,
    max_problems: MaxOpt = 20,
) -> None:
    _run("events", files, preset, mapping, on_error, encoding, delimiter, file_format, timestamp_format,
         max_problems)


__all__ = ["app", "out"]
