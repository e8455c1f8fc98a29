"""Typos, casing and whitespace barely move which products look alike (Spearman ρ of similarities)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.stats import spearmanr

from bundlewise.text import ProductEncoder

log = logging.getLogger(__name__)

# 50 real Online Retail product titles (UCI Online Retail, a fixed random sample)
TITLES = [
    "FRYING PAN RED RETROSPOT", "BIRDCAGE DECORATION TEALIGHT HOLDER", "HANGING BAUBLE T-LIGHT HOLDER SMALL",
    "FLORAL FOLK STATIONERY SET", "GLASS APOTHECARY BOTTLE TONIC", "LAUNDRY 15C METAL SIGN",
    "IVORY PENDANT TRIPLE SHELL NECKLACE", "SALLE DE BAIN HOOK", "SMALL PARISIENNE HEART PHOTO FRAME",
    "RED METAL BEACH SPADE", "FIRE POLISHED GLASS BRACELET RED", "CUBIC MUG PINK POLKADOT",
    "MAXWELL 2 TONE BLUE 60 PAGE PHOTO A", "RIVIERA NECKLACE", "SWIRLY CIRCULAR RUBBERS IN BAG",
    "CHILDRENS SPACEBOY MUG", "FRENCH STYLE EMBOSSED HEART CABINET", 'LETTER "C" BLING KEY RING',
    "KINGS CHOICE BISCUIT TIN", "DOLLY MIXTURE CHILDREN'S UMBRELLA", "PACK 3 FIRE ENGINE/CAR PATCHES",
    "MODERN VINTAGE COTTON SHOPPING BAG", "HOME GARLAND PAINTED ZINC", "SET OF 3 CONEY ISLAND OVAL BOXES",
    "FOLDING UMBRELLA CHOCOLATE POLKADOT", "VINTAGE SNAP CARDS", "FRENCH GARDEN SIGN BLUE METAL",
    "WALL ART CLASSIC PUDDINGS", "HOT BATHS METAL SIGN", "WHITE HANGING HEART T-LIGHT HOLDER",
    "SET OF 4 NAPKIN CHARMS STARS", "GIN AND TONIC MUG", "JUMBO BAG RED RETROSPOT", "TRANQUILITY MASALA INCENSE",
    "MILK BOTTLE WITH GLASS STOPPER", "PARTY PIZZA DISH GREEN POLKADOT", "PAINTED LIGHTBULB RAINBOW DESIGN",
    "3D TRADITIONAL CHRISTMAS STICKERS", "JARDIN ETCHED GLASS BUTTER DISH", "T-LIGHT HOLDER SILVER HEART HANDLE",
    "COFFEE SCENT PILLAR CANDLE", "PACK OF 12 DOLLY GIRL TISSUES", "KNITTED RABBIT DOLL", "LADLE LOVE HEART PINK",
    "EASTER TIN BUCKET", "SET/4 SKULL BADGES", "PINK LOVE BIRD CANDLE", "CHILDREN'S CIRCUS PARADE MUG",
    "HOOK, 1 HANGER ,MAGIC GARDEN", "PINK SPOTS CHOCOLATE NESTING BOXES",
]


def perturb(title: str, rng: np.random.Generator, typo: bool) -> str:
    """Random casing and irregular spaces; with ``typo``, also swap or drop a letter in a word of >= 4 letters."""
    words = title.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4]
    if typo and long:
        i = int(rng.choice(long))
        w = words[i]
        j = int(rng.integers(1, len(w) - 1))
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:] if rng.random() < 0.5 else w[:j] + w[j + 1:]
    case = rng.integers(3)
    text = " ".join(words)
    text = text.lower() if case == 0 else text.title() if case == 1 else text
    return "  " * int(rng.integers(2)) + text.replace(" ", "   ", int(rng.integers(3))) + " " * int(rng.integers(3))


def spearman_of_similarities(encoder: ProductEncoder, typo_share: float) -> float:
    """ρ between the upper triangles of the title-similarity matrices, clean vs perturbed titles."""
    rng = np.random.default_rng(0)
    typos = rng.random(len(TITLES)) < typo_share
    noisy = [perturb(t, rng, bool(k)) for t, k in zip(TITLES, typos, strict=True)]
    assert sum(a != b for a, b in zip(TITLES, noisy, strict=True)) >= 0.9 * len(TITLES)
    a, b = encoder.encode(TITLES), encoder.encode(noisy)
    iu = np.triu_indices(len(TITLES), k=1)
    return float(spearmanr((a @ a.T)[iu], (b @ b.T)[iu]).statistic)


# Measured (2026-11-28): casing + spaces 1.000 for both; typos in 20 % of titles 0.94 (MiniLM) / 0.96 (E5);
# a typo in every title 0.74 / 0.80: one wrong letter in a 3-word title is a big change for a
# subword model, and no pre-trained encoder here reaches 0.9 on that (a fine-tune could).
@pytest.mark.parametrize(("typo_share", "floor"), [(0.0, 0.99), (0.2, 0.9), (1.0, 0.7)])
def test_minilm_similarity_ranking_is_robust(minilm: ProductEncoder, typo_share: float, floor: float) -> None:
    rho = spearman_of_similarities(minilm, typo_share)
    log.warning("minilm: Spearman rho clean vs perturbed (typos in %.0f%% of titles): %.3f", 100 * typo_share, rho)
    assert rho >= floor, rho


@pytest.mark.slow
@pytest.mark.parametrize(("typo_share", "floor"), [(0.0, 0.99), (0.2, 0.9), (1.0, 0.7)])
def test_e5_similarity_ranking_is_robust(e5: ProductEncoder, typo_share: float, floor: float) -> None:
    rho = spearman_of_similarities(e5, typo_share)
    log.warning("e5: Spearman rho clean vs perturbed (typos in %.0f%% of titles): %.3f", 100 * typo_share, rho)
    assert rho >= floor, rho
