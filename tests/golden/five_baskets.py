"""A 5-basket table with every metric worked out by hand (fractions kept exact in comments).

Baskets: 1 {a,b,c}  2 {a,b}  3 {a,c}  4 {b,d}  5 {a,b,d};  N = 5.
Item counts: a 4, b 4, c 2, d 2.  Pair counts: ab 3, ac 2, ad 1, bc 1, bd 2, cd 0.
"""

import math

BASKETS = [["a", "b", "c"], ["a", "b"], ["a", "c"], ["b", "d"], ["a", "b", "d"]]
N = 5

# (item_a, item_b) -> expected values
EXPECTED = {
    ("a", "b"): {
        "n_ab": 3, "n_a": 4, "n_b": 4,
        "support": 3 / 5,                      # 0.6
        "confidence_ab": 3 / 4, "confidence_ba": 3 / 4,
        "lift": 15 / 16,                       # 3*5 / (4*4) = 0.9375
        "leverage": 3 / 5 - (4 / 5) * (4 / 5),  # 0.6 - 0.64 = -0.04
        "conviction_ab": 0.2 / 0.25,           # (1 - 4/5) / (1 - 3/4) = 0.8
        "conviction_ba": 0.8,
        "jaccard": 3 / 5,                      # 3 / (4 + 4 - 3)
        "cosine": 3 / 4,                       # 3 / sqrt(16)
        "npmi": math.log(15 / 16) / -math.log(3 / 5),   # ≈ -0.12634
        "shrunk_lift": (3 + 5) / (16 / 5 + 5),  # E = 3.2 → 8 / 8.2
        "p_value": 1.0,                        # P(X>=3) = P(3)+P(4) = 4/5 + 1/5, X ~ H(5, 4, 4)
    },
    ("a", "c"): {
        "n_ab": 2, "n_a": 4, "n_b": 2,
        "support": 2 / 5,
        "confidence_ab": 2 / 4, "confidence_ba": 2 / 2,
        "lift": 10 / 8,                        # 1.25
        "leverage": 2 / 5 - (4 / 5) * (2 / 5),  # 0.08
        "conviction_ab": (1 - 2 / 5) / (1 - 1 / 2),   # 1.2
        "conviction_ba": math.inf,             # c always comes with a
        "jaccard": 2 / 4,
        "cosine": 2 / math.sqrt(8),
        "npmi": math.log(1.25) / -math.log(2 / 5),    # ≈ 0.24353
        "shrunk_lift": (2 + 5) / (8 / 5 + 5),  # 7 / 6.6
        "p_value": 6 / 10,                     # P(X=2) = C(4,2) C(1,0) / C(5,2), X ~ H(5, 4, 2)
    },
    ("a", "d"): {
        "n_ab": 1, "n_a": 4, "n_b": 2,
        "support": 1 / 5, "confidence_ab": 1 / 4, "confidence_ba": 1 / 2,
        "lift": 5 / 8, "leverage": 1 / 5 - (4 / 5) * (2 / 5),
        "conviction_ab": (1 - 2 / 5) / (1 - 1 / 4), "conviction_ba": (1 - 4 / 5) / (1 - 1 / 2),
        "jaccard": 1 / 5, "cosine": 1 / math.sqrt(8),
        "npmi": math.log(5 / 8) / -math.log(1 / 5),
        "shrunk_lift": (1 + 5) / (8 / 5 + 5),
        "p_value": 1.0,                        # X >= 1 always: at most one of the 2 d-baskets lacks a
    },
    ("b", "d"): {
        "n_ab": 2, "n_a": 4, "n_b": 2, "support": 2 / 5, "confidence_ab": 1 / 2, "confidence_ba": 1.0,
        "lift": 1.25, "p_value": 6 / 10,
    },
    ("b", "c"): {"n_ab": 1, "n_a": 4, "n_b": 2, "lift": 5 / 8},
}
