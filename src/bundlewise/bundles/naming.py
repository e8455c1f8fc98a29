"""Names a merchandiser can tell apart, and bundles that are really variants of one product.

Catalogues often title products by their type and size only (The Complete Journey: "YOGURT NOT
MULTI-PACKS 6 OZ" for dozens of flavours), so two products of a bundle can carry the same title.
:func:`display_names` adds what the products table holds to tell them apart — the brand, the
last level of the category path, and the id as a last resort — only where titles collide.

:func:`variant_pair` recognises two products of the same product type (the same full category
path, or near-identical titles within one category): shoppers choose between them, so a price
on both is a *multi-buy* deal ("any 2 for"), not a complementary bundle.

Examples
--------
>>> import pandas as pd
>>> cat = pd.DataFrame({"product_id": ["1", "2", "3"], "title": ["YOGURT 6 OZ", "YOGURT 6 OZ", "GRANOLA"],
...                     "brand": ["National", "Private", "National"],
...                     "category_path": ["DAIRY > YOGURT", "DAIRY > YOGURT", "GROCERY > CEREAL"]})
>>> names = display_names(cat)
>>> names["1"], names["2"], names["3"]
('YOGURT 6 OZ (National)', 'YOGURT 6 OZ (Private)', 'GRANOLA')
>>> variant_pair(cat.set_index("product_id"), ("1", "2")), variant_pair(cat.set_index("product_id"), ("1", "3"))
(True, False)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import pandas as pd

log = logging.getLogger(__name__)

# Titles sharing this share of their words (Jaccard) within one category are one product type.
_SIMILAR_TITLES = 0.6
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return df[column].fillna("").astype(str).str.strip()


def display_names(catalog: pd.DataFrame) -> dict[str, str]:
    """Product id -> a name unique within the catalogue wherever the products table allows.

    The title (the id when there is none); where several products share it, the brand is added,
    then the category leaf where it tells them apart, then the id: ``"YOGURT 6 OZ (National, #1029)"``.

    Parameters
    ----------
    catalog : DataFrame
        ``product_id``, optionally ``title``, ``brand``, ``category_path``.

    Returns
    -------
    dict of str -> str
    """
    df = catalog.assign(product_id=catalog["product_id"].astype(str)).drop_duplicates("product_id")
    df = df.set_index("product_id")
    title = _text(df, "title")
    title = title.where(title != "", pd.Series(df.index, index=df.index))
    brand = _text(df, "brand")
    leaf = _text(df, "category_path").str.split(">").str[-1].str.strip()
    extras = pd.Series([[] for _ in range(len(df))], index=df.index, dtype=object)
    key = title.copy()
    for part in (brand, leaf):
        clash = key.duplicated(keep=False)
        # an attribute helps only where it differs between the products sharing a name
        useful = clash & (part != "") & part.groupby(key).transform("nunique").gt(1)
        for pid in df.index[useful.to_numpy()]:
            extras[pid] = [*extras[pid], part[pid]]
        key = key.where(~useful, key + " | " + part)
    clash = key.duplicated(keep=False)
    for pid in df.index[clash.to_numpy()]:
        extras[pid] = [*extras[pid], f"#{pid}"]
    return {pid: (f"{title[pid]} ({', '.join(extras[pid])})" if extras[pid] else title[pid]) for pid in df.index}


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def variant_pair(catalog: pd.DataFrame, products: Sequence[str]) -> bool:
    """Whether every product of ``products`` is the same product type (a multi-buy, not a bundle).

    Same type: the same full, non-empty category path of two or more levels, or titles sharing
    at least 60 % of their words within the same top category (or with no category at all).

    Parameters
    ----------
    catalog : DataFrame
        Indexed by ``product_id`` (str), optionally ``title`` and ``category_path``.
    products : sequence of str
    """
    rows = catalog.reindex([str(p) for p in products])
    path = _text(rows, "category_path")
    if path.iloc[0] and path.iloc[0].count(">") >= 1 and (path == path.iloc[0]).all():
        return True
    top = path.str.split(">").str[0].str.strip()
    if not (top == top.iloc[0]).all():
        return False
    words = [_words(t) for t in _text(rows, "title")]
    if not all(words):
        return False
    first = words[0]
    return all(len(first & w) / len(first | w) >= _SIMILAR_TITLES for w in words[1:])


__all__ = ["display_names", "variant_pair"]
