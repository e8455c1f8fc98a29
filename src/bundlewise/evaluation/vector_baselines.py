"""Embedding baselines: item2vec (gensim Word2Vec over baskets), implicit's ALS item factors, and
pure text cosine over the sentence encoder. All rank partners by cosine of product vectors.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from bundlewise.mining import Baskets
>>> b = Baskets.from_lists([["tea", "milk"], ["jam", "bread"]])
>>> cat = pd.DataFrame({"product_id": ["bread", "jam", "milk", "tea"],
...                     "embedding": [np.array([1.0, 0.1]), np.array([0.9, 0.2]), np.array([0.1, 1.0]),
...                                   np.array([0.2, 0.9])]})
>>> TextCosine().fit(b, cat).recommend(["tea"], k=1)[0].tolist()
[['milk']]

``normalize_rows`` and ``catalog_vectors`` live in :mod:`bundlewise.vectors` (re-exported here).
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError
from bundlewise.mining.baskets import Baskets
from bundlewise.recommend import Recommender, catalog_ids
from bundlewise.vectors import catalog_vectors, cosine_top_k, normalize_rows

log = logging.getLogger(__name__)


class DenseRecommender(Recommender):
    """Cosine top-k over ``vectors_`` (rows of products with ``has_vector_``), in query batches."""

    batch_size = 1024

    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        usable = self.has_vector_ if allowed is None else self.has_vector_ & allowed
        top, out = cosine_top_k(self.vectors_[codes], self.vectors_, k, allowed=usable, exclude=codes,
                                batch_size=self.batch_size)
        blind = ~self.has_vector_[codes]  # a product without a vector has no partners
        top[blind], out[blind] = -1, np.nan
        return top, out


def _stable_hash(text: str) -> int:
    # gensim seeds each word vector with hash(word + seed); Python's str hash changes per process
    return zlib.crc32(text.encode("utf-8"))


class Item2Vec(DenseRecommender):
    """item2vec (Barkan & Koenigstein 2016): skip-gram with negative sampling, a basket as a sentence.

    Parameters
    ----------
    vector_size, window, epochs, min_count, negative : int
        Word2Vec's; ``window`` large enough to span a basket treats it as a set.
    ns_exponent : float
        Shape of the negative-sampling distribution (0.75 is word2vec's default; Caselles-Dupré
        et al. 2018 found recommendation prefers other values, often negative).
    max_sentence : int
        Baskets with more products are shuffled and cut into sentences of this length.
    random_state : int
        Seed; training runs on one worker so the result is reproducible.
    """

    def __init__(self, vector_size: int = 64, window: int = 10, epochs: int = 15, min_count: int = 1,
                 negative: int = 10, ns_exponent: float = 0.75, sample: float = 0.0, max_sentence: int = 30,
                 random_state: int = 0):
        self.vector_size = vector_size
        self.window = window
        self.epochs = epochs
        self.min_count = min_count
        self.negative = negative
        self.ns_exponent = ns_exponent
        self.sample = sample
        self.max_sentence = max_sentence
        self.random_state = random_state

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> Item2Vec:
        from gensim.models import Word2Vec

        ids = catalog_ids(baskets, catalog)
        rng = np.random.default_rng(self.random_state)
        sentences = []
        for s, e in zip(baskets.indptr[:-1], baskets.indptr[1:], strict=True):
            if e - s < 2:  # a one-product basket has no context
                continue
            items = [str(x) for x in rng.permutation(baskets.item_ids[baskets.indices[s:e]])]
            # A basket is a set: shuffled, and wholesale baskets cut into chunks of max_sentence
            # products, which keeps training time linear in the basket size instead of quadratic.
            sentences += [items[i: i + self.max_sentence] for i in range(0, len(items), self.max_sentence)]
        if not sentences:
            raise ConfigError("item2vec needs baskets with at least two products; these have none")
        gensim_log = logging.getLogger("gensim")
        level = gensim_log.level
        gensim_log.setLevel(max(level, logging.WARNING))  # gensim logs every lifecycle event at INFO
        try:
            model = Word2Vec(sentences, vector_size=self.vector_size, window=self.window, epochs=self.epochs,
                             min_count=self.min_count, negative=self.negative, ns_exponent=self.ns_exponent,
                             sample=self.sample, sg=1, workers=1, seed=self.random_state, hashfxn=_stable_hash)
        finally:
            gensim_log.setLevel(level)
        vectors = np.zeros((len(ids), self.vector_size), dtype=np.float32)
        has = np.zeros(len(ids), dtype=bool)
        words = np.asarray(model.wv.index_to_key, dtype=object)
        pos = np.searchsorted(ids.astype(str), words.astype(str))
        vectors[pos] = model.wv.vectors
        has[pos] = True
        self.item_ids_, self.vectors_, self.has_vector_ = ids, normalize_rows(vectors), has
        return self


class ALSItemSimilarity(DenseRecommender):
    """Item-item cosine of implicit's alternating-least-squares item factors (baskets as users).

    Parameters
    ----------
    factors, iterations : int
    regularization : float
    alpha : float
        Confidence scaling of implicit feedback (``1 + alpha * r``).
    random_state : int
    """

    def __init__(self, factors: int = 64, regularization: float = 0.01, alpha: float = 1.0, iterations: int = 15,
                 random_state: int = 0):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> ALSItemSimilarity:
        import scipy.sparse as sp
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        ids = catalog_ids(baskets, catalog)
        b = baskets.with_vocabulary(ids)
        users = sp.csr_matrix((np.ones(b.nnz, dtype=np.float32), b.indices, b.indptr), shape=(b.n_baskets, len(ids)))
        # implicit runs its own threads; BLAS threads on top only oversubscribe (and implicit warns)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                            alpha=self.alpha, iterations=self.iterations,
                                            random_state=self.random_state, calculate_training_loss=False)
            model.fit(users, show_progress=False)
        factors = np.asarray(model.item_factors, dtype=np.float32)
        has = b.item_counts() > 0
        self.item_ids_, self.vectors_, self.has_vector_ = ids, normalize_rows(factors), has
        return self


class TextCosine(DenseRecommender):
    """Pure text similarity: cosine of the sentence-encoder embeddings of product texts.

    Uses the catalogue's ``embedding`` column when present (the evaluation fills it from the
    warehouse's embedding cache), else encodes the catalogue with ``encoder``.

    Parameters
    ----------
    encoder : ProductEncoder, optional
        Default: ``ProductEncoder()`` (all-MiniLM-L6-v2, or multilingual for CJK catalogues).
    """

    def __init__(self, encoder: Any = None):
        self.encoder = encoder

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> TextCosine:
        if catalog is None:
            raise ConfigError("TextCosine needs a catalogue with product texts (fit(baskets, catalog=...))")
        ids = catalog_ids(baskets, catalog)
        vectors = catalog_vectors(catalog, self.encoder)
        full = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
        has = np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(ids.astype(str), catalog["product_id"].astype(str).to_numpy())
        full[pos], has[pos] = vectors, True
        self.item_ids_, self.vectors_, self.has_vector_ = ids, normalize_rows(full), has
        return self


class TextLoRA(DenseRecommender):
    """Text cosine after LoRA fine-tuning on the fit baskets' co-purchased pairs ("bought together").

    ``fit`` builds pairs from the baskets it is given only (training, or training + validation for the
    test: never the scored block), fine-tunes a copy of ``encoder`` with
    :class:`~bundlewise.text.finetune.EncoderFineTuner`, encodes every catalogue text with it and ranks by
    cosine like :class:`TextCosine`. A cold product has no pair, but its text is read by the tuned
    encoder. The catalogue's ``embedding`` column (plain vectors) is ignored.

    Parameters
    ----------
    encoder : ProductEncoder, optional
        The base encoder (copied, never changed); default ``ProductEncoder()``.
    max_pairs, epochs, r, batch_size, lr, min_count : see :class:`~bundlewise.text.finetune.EncoderFineTuner`
        and :func:`~bundlewise.text.finetune.copurchase_pairs`.
    time_budget_s : float, optional
        Fine-tuning stops after this many seconds.
    random_state : int

    Attributes
    ----------
    tuner_ : EncoderFineTuner
        The fitted adapter (``seconds_``, ``pairs_seen_``, ``loss_history_``).
    encoder_ : ProductEncoder
        The tuned copy (``model_id_`` ends in ``;lora=<id>``).
    """

    def __init__(self, encoder: Any = None, max_pairs: int = 20_000, epochs: int = 1, r: int = 8,
                 batch_size: int = 32, lr: float = 2e-4, min_count: int = 1, time_budget_s: float | None = 900.0,
                 random_state: int = 0):
        self.encoder = encoder
        self.max_pairs = max_pairs
        self.epochs = epochs
        self.r = r
        self.batch_size = batch_size
        self.lr = lr
        self.min_count = min_count
        self.time_budget_s = time_budget_s
        self.random_state = random_state

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> TextLoRA:
        import copy

        from bundlewise.text import ProductEncoder, product_texts
        from bundlewise.text.finetune import EncoderFineTuner, copurchase_pairs

        if catalog is None:
            raise ConfigError("TextLoRA needs a catalogue with product texts (fit(baskets, catalog=...))")
        ids = catalog_ids(baskets, catalog)
        texts = product_texts(catalog)
        cat_ids = catalog["product_id"].astype(str).to_numpy()
        base = self.encoder if self.encoder is not None else ProductEncoder()
        if not hasattr(base, "model_"):
            base.fit(texts)
        pairs, _ = copurchase_pairs(baskets.to_lists(), dict(zip(cat_ids, texts, strict=True)),
                                    max_pairs=self.max_pairs, min_count=self.min_count, seed=self.random_state)
        if len(pairs) < 2:
            raise ConfigError(f"TextLoRA found {len(pairs)} co-purchased pair(s) with distinct texts in "
                              f"{baskets.n_baskets:,} baskets; it needs at least 2 (lower min_count={self.min_count})")
        text_of = dict(zip(cat_ids, texts, strict=True))
        tuner = EncoderFineTuner(r=self.r, alpha=2 * self.r, epochs=self.epochs, batch_size=self.batch_size,
                                 lr=self.lr, max_pairs=self.max_pairs, time_budget_s=self.time_budget_s,
                                 seed=self.random_state)
        tuner.fit(base, [text_of[a] for a in pairs[:, 0]], [text_of[b] for b in pairs[:, 1]])
        encoder = tuner.apply(copy.deepcopy(base))
        vectors = encoder.encode(texts)
        full = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
        has = np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(ids.astype(str), cat_ids)
        full[pos], has[pos] = vectors, True
        self.item_ids_, self.vectors_, self.has_vector_ = ids, normalize_rows(full), has
        self.tuner_, self.encoder_ = tuner, encoder
        return self
