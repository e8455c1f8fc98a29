"""The PyTorch network of the pair model: a shared product tower, an asymmetric pair head and a
sales-volume head (the multi-task part).

Imported only when a pair model is fitted or loaded (torch is heavy).
"""

from __future__ import annotations

import torch
from torch import nn

from bundlewise.pairmodel.features import N_CATEGORY_BUCKETS, PAIR_FEATURES


class PairNet(nn.Module):
    """``logit(i → j) = head([u, v, u ⊙ v, |u − v|, pair features])``, ``u = tower(i)``, ``v = tower(j)``.

    The tower reads the (frozen) text embedding, log price and a hashed category embedding. The
    order of ``[u, v]`` and the directional pair features make the score asymmetric. The volume
    head predicts a product's (standardised) log sales from its tower output alone.
    """

    def __init__(self, d_text: int, hidden: int = 128, d_category: int = 16, dropout: float = 0.1):
        super().__init__()
        self.category = nn.Embedding(N_CATEGORY_BUCKETS, d_category)
        self.tower = nn.Sequential(
            nn.Linear(d_text + 1 + d_category, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden))
        n_pair = len(PAIR_FEATURES)
        self.pair_norm = nn.BatchNorm1d(n_pair, affine=False)
        self.head = nn.Sequential(
            nn.Linear(4 * hidden + n_pair, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden // 2), nn.GELU(), nn.Linear(hidden // 2, 1))
        # a direct linear path from the pair features: the co-purchase evidence needs no detour
        self.linear = nn.Linear(n_pair, 1)
        self.volume = nn.Linear(hidden, 1)

    def encode(self, text: torch.Tensor, price: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        return self.tower(torch.cat([text, price.unsqueeze(1), self.category(category)], dim=1))

    def score(self, u: torch.Tensor, v: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
        p = self.pair_norm(pair)
        x = torch.cat([u, v, u * v, (u - v).abs(), p], dim=1)
        return (self.head(x) + self.linear(p)).squeeze(1)

    def forward(self, text_i: torch.Tensor, price_i: torch.Tensor, cat_i: torch.Tensor, text_j: torch.Tensor,
                price_j: torch.Tensor, cat_j: torch.Tensor, pair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.encode(text_i, price_i, cat_i)
        v = self.encode(text_j, price_j, cat_j)
        return self.score(u, v, pair), self.volume(u).squeeze(1)
