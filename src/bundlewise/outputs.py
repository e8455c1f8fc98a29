"""Everything a command writes for a person goes through here: checked paths, atomic writes, safe text.

A shop's files must never be lost to a mistyped ``--output``. So every output path is checked
*before* any data is loaded (:func:`check_output`, :func:`check_output_dir`), every file is written
to a temporary file beside it and renamed into place only when complete (:func:`atomic_write`), a
folder is replaced by renames, never by deleting first (:func:`replace_folder`), CSV cells that a
spreadsheet would run as formulas are neutralised (:func:`neutralise_cell`), and text that came
from the data is stripped of terminal control sequences before it is printed (:func:`clean_terminal`).

Only the standard library is imported here (pandas only inside :func:`neutralise_frame`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bundlewise.errors import OutputError, allowed

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm")
DUCKDB_MAGIC = b"DUCK"
DUCKDB_MAGIC_OFFSET = 8


def looks_like_duckdb(path: str | Path) -> bool:
    """Whether ``path`` is a file carrying DuckDB's magic bytes (``DUCK`` at offset 8)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(DUCKDB_MAGIC_OFFSET + len(DUCKDB_MAGIC))
    except OSError:
        return False
    return head[DUCKDB_MAGIC_OFFSET:] == DUCKDB_MAGIC


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve(strict=False)


def _protected(warehouse: str | Path | None, inputs: Iterable[str | Path]) -> dict[Path, str]:
    """Resolved paths an output must never replace, with what each one is."""
    shielded: dict[Path, str] = {}
    if warehouse is not None:
        wh = _resolved(warehouse)
        shielded[wh] = "the warehouse"
        shielded[wh.with_name(wh.name + ".wal")] = "the warehouse's write-ahead log"
    for p in inputs:
        shielded.setdefault(_resolved(p), "an input file of this command")
    return shielded


def check_output(path: str | Path, *, allowed_suffixes: Sequence[str], what: str,
                 warehouse: str | Path | None = None, inputs: Iterable[str | Path] = (),
                 option: str = "--output") -> Path:
    """Refuse an output file path that would destroy something; call it before any work starts.

    Refused: the warehouse (or its ``.wal``) and the command's input files; an extension other than
    ``allowed_suffixes`` (so a typo cannot replace a file of another kind); an existing folder; a
    missing parent folder; an existing file that is a DuckDB database whatever its name.

    Parameters
    ----------
    path
        The path given by the user.
    allowed_suffixes
        Lower-case extensions with the dot, e.g. ``(".csv", ".json")``.
    what
        What is written, for the message ("the bundle table").
    warehouse
        The warehouse of the command, if any.
    inputs
        Files the command reads.
    option
        The option's name, for the message.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.

    Raises
    ------
    OutputError
        Saying what was received, what is allowed and how to fix it.

    Examples
    --------
    >>> check_output("plan.csv", allowed_suffixes=(".csv",), what="the bundle table")
    PosixPath('plan.csv')
    """
    path = Path(path)
    given = f"{option} {str(path)!r}"
    target = _resolved(path)
    for protected, kind in _protected(warehouse, inputs).items():
        if target == protected:
            raise OutputError(f"{given} is {kind}; writing {what} there would destroy it: pick another file name")
    suffix = path.suffix.lower()
    if suffix not in allowed_suffixes:
        raise OutputError(f"{given} has suffix {suffix or '(none)'!r}; allowed suffixes are "
                          f"{allowed(list(allowed_suffixes))} for {what} (a name that does not match what is "
                          "written could replace a file of another kind): use e.g. "
                          f"{(path.stem or 'output') + allowed_suffixes[0]!r}")
    if path.is_dir():
        raise OutputError(f"{given} is an existing folder; {what} is one file: give a file name, e.g. "
                          f"{str(path / ('output' + allowed_suffixes[0]))!r}")
    if not target.parent.is_dir():
        raise OutputError(f"{given}: the folder {str(path.parent)!r} does not exist; create it first "
                          "(mkdir -p) or pick a path in an existing folder")
    if path.exists() and looks_like_duckdb(path):
        raise OutputError(f"{given} is a DuckDB database (a warehouse?) despite its name; {what} will not "
                          "replace it: pick another file name")
    return path


def check_output_dir(path: str | Path, *, what: str, ours: Callable[[Path], bool],
                     warehouse: str | Path | None = None, option: str = "--output") -> Path:
    """Refuse an output folder unless it is absent, empty, or ``ours(path)`` recognises it.

    Never a folder that holds the warehouse, never a file, never a folder whose parent is missing.
    Nothing is created or deleted here.

    Raises
    ------
    OutputError
        Naming a few of the files that are in the way.
    """
    path = Path(path)
    given = f"{option} {str(path)!r}"
    target = _resolved(path)
    if warehouse is not None:
        wh = _resolved(warehouse)
        if target == wh or target in wh.parents:
            raise OutputError(f"{given} is or holds the warehouse {str(warehouse)!r}; {what} needs a folder of "
                              "its own: pick a new folder name")
    if path.is_symlink():
        raise OutputError(f"{given} is a symbolic link; give the folder it points to, or a new folder name")
    if path.exists() and not path.is_dir():
        raise OutputError(f"{given} is an existing file; {what} is a folder: pick a new folder name")
    if not target.parent.is_dir():
        raise OutputError(f"{given}: the folder {str(path.parent)!r} does not exist; create it first "
                          "(mkdir -p) or pick a path in an existing folder")
    if path.is_dir():
        entries = sorted(p.name for p in path.iterdir())
        if entries and not ours(path):
            shown = ", ".join(repr(e) for e in entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3
                                                               else "")
            raise OutputError(f"{given} is a folder holding files that are not {what} ({shown}); bundlewise "
                              f"writes {what} only into a new or empty folder or over an earlier {what}, and never "
                              "deletes anything else: pick a new folder name")
    return path


def _fsync_dir(folder: Path) -> None:
    try:  # makes the rename itself durable; not possible on every platform/filesystem
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends it becomes ``path`` in one rename.

    Write to the yielded path with anything (``open``, ``DataFrame.to_parquet``, DuckDB ``COPY``).
    It is fsynced and renamed over ``path`` only when the block succeeds; on any error (or Ctrl-C)
    the temporary file is removed and an existing ``path`` is left exactly as it was. The new file
    keeps the old file's permissions (or the umask's default).

    Raises
    ------
    OutputError
        When the file cannot be written (disk full, no permission), saying the old file is unchanged.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_write(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=f".tmp{path.suffix}", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}; pick another path") from exc
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        mode = path.stat().st_mode & 0o7777 if path.exists() else _default_mode()
        os.chmod(tmp, mode)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(folder)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}; the previous file (if any) is "
                              "unchanged: free some space, fix the permissions or pick another path") from exc
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


@contextmanager
def replace_folder(path: str | Path, *, still_ours: Callable[[Path], bool] = lambda p: True) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path``; on success it takes ``path``'s place.

    The old folder is renamed to a backup, the new one renamed into place, and only then the backup
    is removed, so a crash at any moment leaves the old or the new folder (or, in the instant between
    the two renames, the old one under ``.NAME.old-*``). The temporary folder is removed on any
    error or Ctrl-C. ``still_ours`` is asked again right before the swap, so a folder that changed
    meanwhile (the user put files in it) is not replaced.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=folder))
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}; pick another path") from exc
    try:
        yield tmp
        for file in (p for p in tmp.rglob("*") if p.is_file()):
            with open(file, "rb+") as fh:
                os.fsync(fh.fileno())
        if path.exists() or path.is_symlink():
            if path.is_symlink() or not path.is_dir() or (any(path.iterdir()) and not still_ours(path)):
                raise OutputError(f"{str(path)!r} changed while it was being written (it is no longer empty or "
                                  "ours); nothing was replaced: pick a new folder name")
            import secrets  # here, not at the top: the rules path starts faster without hmac/hashlib

            backup = folder / f".{path.name}.old-{secrets.token_hex(4)}"
            os.rename(path, backup)
            try:
                os.rename(tmp, path)
            except BaseException:
                os.rename(backup, path)
                raise
            _fsync_dir(folder)
            shutil.rmtree(backup, ignore_errors=True)  # the earlier output, checked to be ours
        else:
            os.rename(tmp, path)
            _fsync_dir(folder)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}; the previous folder (if any) is "
                              "unchanged: free some space, fix the permissions or pick another path") from exc
        raise


# OWASP "CSV injection": a cell starting with one of these is run as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet would read this cell as a formula (a number like ``-1.5`` is not)."""
    return (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and _NUMBER.fullmatch(value) is None)


def neutralise_cell(value: Any) -> Any:
    """Prefix ``'`` to a text cell that a spreadsheet would run as a formula; anything else unchanged.

    Examples
    --------
    >>> neutralise_cell("=HYPERLINK(\\"http://x\\")"), neutralise_cell("-1.5"), neutralise_cell(3)
    ('\\'=HYPERLINK("http://x")', '-1.5', 3)
    """
    return "'" + value if is_formula_like(value) else value


def neutralise_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame with :func:`neutralise_cell` applied to every text column."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        col = out[column]
        if pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col):
            out[column] = col.map(neutralise_cell)
    renamed = {c: neutralise_cell(c) for c in out.columns if isinstance(c, str)}
    return out.rename(columns=renamed)


def count_formula_like(frame: Any) -> int:
    """How many text cells of a DataFrame a spreadsheet would run as formulas."""
    import pandas as pd

    n = 0
    for column in frame.columns:
        col = frame[column]
        if pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col):
            n += int(col.map(is_formula_like).sum())
    return n


# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), then any other ESC pair.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]")
# C0 (but \n, \t), DEL, C1 and the bidirectional overrides that can make text read differently from what it is.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_terminal(text: object, *, keep_newlines: bool = True) -> str:
    """``text`` without escape codes or control characters, safe to print to a terminal.

    Text from the data (titles, descriptions, rejected values) may carry ANSI escape sequences
    that recolour, move the cursor, retitle the window or hide output; rich's ``markup=False``
    lets them through. Tabs become spaces; newlines stay unless ``keep_newlines`` is false.

    Examples
    --------
    >>> clean_terminal("\\x1b[31mred\\x1b[0m tea\\x07")
    'red tea'
    """
    s = str(text)
    s = _ESCAPES.sub("", s)
    s = s.replace("\t", " ").replace("\r\n", "\n")
    if not keep_newlines:
        s = s.replace("\n", " ")
    return _CONTROLS.sub("", s)
