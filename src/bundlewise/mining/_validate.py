"""Parameter checks shared by the mining estimators (run in ``fit``, never in ``__init__``)."""

from __future__ import annotations

from bundlewise.errors import ConfigError


def check_int(name: str, value: object, minimum: int, *, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} is {value!r}; it must be an integer >= {minimum}"
                          + (" (or None)" if none_ok else ""))


def check_fraction(name: str, value: object, *, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        0.0 < value <= 1.0 if low_open else 0.0 <= value <= 1.0)
    if not ok:
        bounds = "in (0, 1]" if low_open else "in [0, 1]"
        raise ConfigError(f"{name} is {value!r}; it must be a number {bounds} (a share of baskets, e.g. 0.001)")


def check_positive(name: str, value: object, *, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} is {value!r}; it must be a number > 0" + (" (or None)" if none_ok else ""))


def check_lengths(min_len: int, max_len: int) -> None:
    check_int("min_len", min_len, 1)
    check_int("max_len", max_len, 1)
    if max_len < min_len:
        raise ConfigError(f"max_len ({max_len}) is smaller than min_len ({min_len}); max_len must be >= min_len")
