from __future__ import annotations

import pandas as pd
import pytest

from bundlewise.errors import ConfigError
from bundlewise.text.templates import DEFAULT_TEMPLATE, TITLE_ONLY, contains_cjk_share, product_texts, render


def _cat(**cols: list[object]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {c: [""] * n for c in ("title", "description", "category_path", "brand")}
    base.update(cols)
    return pd.DataFrame(base)


def test_all_fields() -> None:
    cat = _cat(title=["Mug"], description=["Blue, 300 ml"], category_path=["Home > Kitchen"], brand=["Acme"])
    assert product_texts(cat) == ["Mug. Blue, 300 ml. Category: Home > Kitchen. Brand: Acme."]


@pytest.mark.parametrize(("row", "expected"), [
    ({"title": "Mug", "brand": ""}, "Mug."),
    ({"title": "", "description": "blue mug"}, "blue mug."),
    ({"title": "", "brand": "Acme"}, "Brand: Acme."),
    ({"title": "Mug", "category_path": None, "brand": float("nan")}, "Mug."),
    ({}, ""),
])
def test_empty_parts_leave_no_debris(row: dict, expected: str) -> None:
    cat = _cat(**{k: [v] for k, v in row.items()}) if row else _cat(title=[""])
    (text,) = product_texts(cat)
    assert text == expected
    assert ": ." not in text and ".." not in text and not text.startswith((".", " "))


def test_whitespace_and_sentence_end_are_normalised() -> None:
    cat = _cat(title=["  Hot\tdog   buns.\n"], description=["8  pack"])
    assert product_texts(cat) == ["Hot dog buns. 8 pack."]


def test_values_keep_their_leading_punctuation() -> None:
    assert product_texts(_cat(title=["-20% mugs"], brand=["Acme"])) == ["-20% mugs. Brand: Acme."]
    assert product_texts(_cat(description=["...and more"])) == ["...and more."]


def test_description_repeating_the_title_is_dropped() -> None:
    cat = _cat(title=["WHITE MUG"], description=["white mug"])
    assert product_texts(cat) == ["WHITE MUG."]


def test_other_template_and_missing_columns() -> None:
    cat = pd.DataFrame({"title": ["Mug", "Cup"]})
    assert product_texts(cat, TITLE_ONLY) == ["Mug", "Cup"]
    assert product_texts(cat, "{brand} - {title}") == ["Mug", "Cup"]
    assert render({"title": "Mug", "brand": "Acme"}, "{brand} - {title}") == "Acme - Mug"


@pytest.mark.parametrize("template", ["{name}", "no fields", "{title!r}", "{title"])
def test_bad_templates_are_config_errors(template: str) -> None:
    with pytest.raises(ConfigError, match="title"):
        product_texts(_cat(title=["Mug"]), template)


def test_cjk_share() -> None:
    assert contains_cjk_share([]) == 0.0
    assert contains_cjk_share(["智能手表", "smart watch", "운동화", "Tシャツ", "mug"]) == pytest.approx(0.6)
    assert DEFAULT_TEMPLATE.count("{") == 4
