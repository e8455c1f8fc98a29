"""Which failures are the user's or the machine's (exit 1 with a message) rather than bugs (exit 70).

A full disk, a missing folder, a permission, a read-only file system or too little memory is
not a bug in bundlewise: the message names the file or step and says what to do about it.
"""

from __future__ import annotations

import errno
import os
import sys

from bundlewise.errors import BundlewiseError

# errno → what to do about it; the system's own text (strerror) says what happened
_ERRNO_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write to another disk",
    errno.EDQUOT: "the disk quota is used up: free some space or write elsewhere",
    errno.EACCES: "permission denied: check the permissions of the file and its folder, or choose another path",
    errno.EPERM: "operation not permitted: check the permissions of the file and its folder, or choose another path",
    errno.EROFS: "the file system is read-only: write to another folder",
    errno.ENOENT: "check the path (a folder must exist before bundlewise writes into it)",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "the path is a folder: give a file name",
    errno.EEXIST: "the path already exists: choose another name",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) and try again",
    errno.EIO: "the disk reported an I/O error: check the disk",
}
_MEMORY_HINT = ("run it on a machine with more memory, or on less data (e.g. --max-basket-size, a higher "
                "--min-count or --min-support, --since)")


def user_error(exc: BaseException) -> BundlewiseError | None:
    """The :class:`BundlewiseError` behind ``exc``: itself, or the one a failing clean-up hid.

    When code handling a user error fails again (an ``unregister`` in a ``finally``, a
    rollback on a broken connection), Python raises the second exception with the first as
    its ``__context__``; the first is the one the user can act on.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BundlewiseError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def environment_message(exc: BaseException, verb: str | None = None) -> str | None:
    """A one-line message for a failure of the machine (disk, permissions, memory); None for anything else."""
    doing = f"'bundlewise {verb}'" if verb else "the command"
    if isinstance(exc, MemoryError):
        return f"{doing} ran out of memory; {_MEMORY_HINT}"
    # a DuckDB error needs DuckDB loaded: looked up, never imported (a verb without a warehouse starts faster)
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.OutOfMemoryException):
        first = str(exc).splitlines()[0] if str(exc) else "out of memory"
        return f"{doing} ran out of memory in DuckDB ({first}); {_MEMORY_HINT}"
    if duckdb is not None and isinstance(exc, duckdb.IOException):
        first = str(exc).splitlines()[0] if str(exc) else "I/O error"
        return (f"{doing} failed to read or write a file: {first}; check that the folder exists, the disk has "
                "space and the file may be written")
    if isinstance(exc, OSError) and exc.errno is None:  # e.g. pyarrow's: the errno is only in the text
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"{doing} failed to read or write a file: {first}; check the path, the disk and the permissions"
    if isinstance(exc, OSError):
        what = exc.strerror or os.strerror(exc.errno)
        where = f" {exc.filename!s}" if exc.filename is not None else ""
        if exc.filename2 is not None:
            where += f" → {exc.filename2!s}"
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        hint = _ERRNO_HINTS.get(exc.errno, "check the path, the disk and the permissions")
        return f"{doing} could not use{where or ' a file'}: {what} ({name}); {hint}"
    return None
