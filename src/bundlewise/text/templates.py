"""Product text for the encoder: title, description, category and brand in one clean string.

A template names the fields with ``{title}``, ``{description}``, ``{category}`` and ``{brand}``.
Each field owns the literal text written just before it (its label and separator), so an empty
field drops with its label: no ``"Brand: ."`` debris. Whitespace is collapsed everywhere and a
description that only repeats the title is left out.

Examples
--------
>>> import pandas as pd
>>> cat = pd.DataFrame({"title": ["Hot dog buns ", "智能手表"], "description": ["8 pack", ""],
...                     "category_path": ["Bakery > Bread", ""], "brand": ["", "Acme"]})
>>> product_texts(cat)
['Hot dog buns. 8 pack. Category: Bakery > Bread.', '智能手表. Brand: Acme.']
>>> contains_cjk_share(product_texts(cat))
0.5
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

import pandas as pd

from bundlewise.errors import ConfigError, allowed

DEFAULT_TEMPLATE = "{title}. {description}. Category: {category}. Brand: {brand}."
TITLE_ONLY = "{title}"
FIELDS = {"title": "title", "description": "description", "category": "category_path", "brand": "brand"}

_SPACE = re.compile(r"\s+")
# a separator left at the start after the fields before it were dropped (". desc" -> "desc")
_LEADING_SEP = re.compile(r"^[\s.,;:|/\-–—]+")
# "Title.. next" when a value already ends a sentence
_DOUBLE_STOP = re.compile(r"(?<!\.)([.!?。！？])\s*\.(?=\s|$)")  # not inside an ellipsis
# CJK ideographs (+ extension A, compatibility), kana and hangul
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def _parse(template: str) -> tuple[list[tuple[str, str]], str]:
    """(literal before the field, field) pairs and the trailing literal."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"text template {template!r} is not a valid format string ({exc}); "
                          f"write fields as {{title}}, e.g. {DEFAULT_TEMPLATE!r}") from None
    segments, tail = [], ""
    for literal, field, spec, conv in parts:
        if field is None:
            tail = literal
            continue
        if field not in FIELDS or spec or conv:
            raise ConfigError(f"text template field {{{field}}} is not allowed; fields: {allowed(list(FIELDS))} "
                              "(no format specs or conversions)")
        segments.append((literal, field))
    if not segments:
        raise ConfigError(f"text template {template!r} has no field; use at least one of {allowed(list(FIELDS))}")
    return segments, tail


def _clean(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return _SPACE.sub(" ", str(value)).strip()


def render(fields: dict[str, str], template: str = DEFAULT_TEMPLATE) -> str:
    """One product's text from its field values (missing or empty fields are dropped).

    >>> render({"title": "Mug", "brand": "Acme"})
    'Mug. Brand: Acme.'
    >>> render({})
    ''
    """
    segments, tail = _parse(template)
    return _render(segments, tail, {k: _clean(v) for k, v in fields.items()})


def _render(segments: list[tuple[str, str]], tail: str, values: dict[str, str]) -> str:
    kept = [(literal, values[field]) for literal, field in segments if values.get(field)]
    if not kept:
        return ""
    # the separator before the first kept field joined it to a dropped one: drop it too (the value stays as is)
    kept[0] = (_LEADING_SEP.sub("", kept[0][0]), kept[0][1])
    text = "".join(literal + value for literal, value in kept) + tail
    text = _DOUBLE_STOP.sub(r"\1", _SPACE.sub(" ", text)).strip()
    return text


def product_texts(catalog: pd.DataFrame, template: str = DEFAULT_TEMPLATE) -> list[str]:
    """The encoder input of every catalogue row, in row order.

    Parameters
    ----------
    catalog : DataFrame
        Columns ``title``, ``description``, ``category_path``, ``brand`` (as from
        :func:`bundlewise.ingest.load_catalog`); absent columns count as empty.
    template : str
        Fields ``{title}``, ``{description}``, ``{category}``, ``{brand}``; the literal text before a
        field is dropped with it when the field is empty.

    Returns
    -------
    list of str
        One text per row; whitespace normalised, possibly empty.

    Raises
    ------
    ConfigError
        The template names an unknown field or none.
    """
    segments, tail = _parse(template)
    columns = {name: ([_clean(v) for v in catalog[col]] if col in catalog.columns else [""] * len(catalog))
               for name, col in FIELDS.items()}
    out = []
    for i in range(len(catalog)):
        values = {name: col[i] for name, col in columns.items()}
        if values["description"] and values["description"].casefold() == values["title"].casefold():
            values["description"] = ""  # derived catalogues repeat the title as description
        out.append(_render(segments, tail, values))
    return out


def contains_cjk_share(texts: Sequence[str]) -> float:
    """Share of texts holding at least one Chinese, Japanese or Korean character (0 for no texts).

    >>> contains_cjk_share(["smart watch", "运动鞋", "", "Tシャツ"])
    0.5
    """
    if not len(texts):
        return 0.0
    return sum(1 for t in texts if _CJK.search(t)) / len(texts)
