"""LoRA fine-tuning of the product encoder for complementarity: "bought together", not only "reads alike".

A pre-trained sentence encoder puts *substitutes* close (two flavours of the same jam) and leaves
complements (jam and scones) far apart. :class:`EncoderFineTuner` trains low-rank adapters (LoRA, Hu et
al. 2021, through ``peft``) on the encoder's ``BertModel`` from co-purchased pairs of product texts,
with the symmetric in-batch-negatives loss of sentence-transformers' MultipleNegativesRankingLoss
(Henderson et al. 2017): in a batch of pairs ``(a_i, b_i)``, ``b_i`` must be the nearest of all ``b`` to
``a_i`` and ``a_i`` the nearest of all ``a`` to ``b_i``. The vectors are pooled exactly as
:meth:`~bundlewise.text.encoder.ProductEncoder.encode` pools them. :func:`copurchase_pairs` builds the
pairs from training baskets only (an evaluation must never fine-tune on its test block).

:meth:`EncoderFineTuner.apply` merges the adapter into an encoder, whose ``model_id_`` then ends in
``;lora=<adapter_id_>``, so the warehouse's embedding cache keys tuned vectors apart from plain ones.
:meth:`EncoderFineTuner.save` / :func:`load_finetuner` store the adapter as safetensors plus a JSON sidecar.

Examples
--------
>>> pairs, counts = copurchase_pairs([["jam", "scones", "tea"], ["jam", "scones"]],
...                                  {"jam": "strawberry jam", "scones": "scones", "tea": "tea"})
>>> [tuple(p) for p in pairs], counts.tolist()
([('jam', 'scones'), ('jam', 'tea'), ('scones', 'tea')], [2, 1, 1])
>>> EncoderFineTuner(r=4).r
4
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError, NotFittedError
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

LOG_EVERY = 50  # steps between progress log lines
WEIGHTS_FILE = "adapter.safetensors"
META_FILE = "adapter.json"
FORMAT = "bundlewise-lora-1"
_MASKED = -1e4  # logit of an in-batch false negative (finite: -inf rows would give NaN gradients)


# ------------------------------------------------------------------------------------------ pairs
def copurchase_pairs(baskets: Sequence[Sequence[object]], texts: Mapping[object, str], max_pairs: int = 100_000,
                     min_count: int = 1, max_basket_size: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Distinct co-purchased product pairs, sampled by how many baskets hold them.

    Parameters
    ----------
    baskets : sequence of sequences of product ids
        Training-period baskets only. Repeated products in a basket count once.
    texts : mapping of product id -> text
        Products without a (non-empty) text are left out, and so are pairs whose two texts are identical
        (after whitespace is collapsed): their loss would teach nothing.
    max_pairs : int
        At most this many pairs, drawn without replacement with probability growing with the basket
        count (Efraimidis–Spirakis weighted sampling).
    min_count : int
        Pairs seen in fewer baskets are dropped.
    max_basket_size : int
        A larger (wholesale) basket contributes a seeded random subset of this many products, which keeps
        the work linear instead of quadratic in its size.
    seed : int

    Returns
    -------
    pairs : object array, shape (n, 2)
        ``(id_a, id_b)`` with ``str(id_a) < str(id_b)``; never a product with itself; ordered by ids.
    counts : int64 array, shape (n,)
        Baskets holding each pair.

    Raises
    ------
    ConfigError
        A parameter is out of range.
    """
    for name, value, low in (("max_pairs", max_pairs, 1), ("min_count", min_count, 1),
                             ("max_basket_size", max_basket_size, 2)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name} is {value!r}; it must be an integer >= {low}")
    clean = {str(k): " ".join(str(v).split()) for k, v in texts.items() if v is not None and str(v).strip()}
    vocab = np.array(sorted(clean), dtype=object)
    code = {p: i for i, p in enumerate(vocab)}
    n = len(vocab)
    rng = np.random.default_rng(seed)
    keys = []
    for basket in baskets:
        codes = np.unique(np.fromiter((code[c] for c in map(str, basket) if c in code), dtype=np.int64))
        if len(codes) > max_basket_size:
            codes = np.sort(rng.choice(codes, size=max_basket_size, replace=False))
        if len(codes) >= 2:
            i, j = np.triu_indices(len(codes), k=1)
            keys.append(codes[i] * n + codes[j])
    if not keys:
        return np.empty((0, 2), dtype=object), np.empty(0, dtype=np.int64)
    uniq, counts = np.unique(np.concatenate(keys), return_counts=True)
    a, b = uniq // n, uniq % n
    text_of = np.array([clean[p] for p in vocab], dtype=object)
    keep = (counts >= min_count) & (text_of[a] != text_of[b])
    a, b, counts = a[keep], b[keep], counts[keep].astype(np.int64)
    if len(a) > max_pairs:
        # weighted sampling without replacement: the max_pairs largest u ** (1 / w), in logs
        score = np.log(rng.random(len(a))) / counts
        chosen = np.sort(np.argpartition(-score, max_pairs - 1)[:max_pairs])
        a, b, counts = a[chosen], b[chosen], counts[chosen]
    pairs = np.empty((len(a), 2), dtype=object)
    pairs[:, 0], pairs[:, 1] = vocab[a], vocab[b]
    return pairs, counts


# -------------------------------------------------------------------------------------- the tuner
class EncoderFineTuner:
    """LoRA adapters for a :class:`~bundlewise.text.encoder.ProductEncoder`, trained on co-purchased pairs.

    Parameters
    ----------
    r : int
        LoRA rank (>= 1).
    alpha : float
        LoRA scaling numerator (the update is ``alpha / r * B @ A``).
    dropout : float
        Dropout on the LoRA input, in [0, 1).
    target_modules : tuple of str
        Names of the ``BertModel`` linear layers that get adapters (``query``, ``key``, ``value``,
        ``dense``); matched as name suffixes by peft.
    epochs : int
        Passes over the pairs (stops earlier when ``time_budget_s`` runs out).
    batch_size : int
        Pairs per step (>= 2): each pair's partner competes with the batch's other partners.
    lr : float
        AdamW learning rate of the adapter weights.
    scale : float
        Inverse temperature of the cosine logits (sentence-transformers' default 20).
    max_pairs : int
        At most this many pairs (a seeded sample of the given ones).
    time_budget_s : float, optional
        Stop after the step that passes this many seconds of training.
    seed : int
        Seeds the adapter initialisation, dropout and the batch order: the same seed and data give the
        same :attr:`adapter_id_` (on one machine and thread count).

    Attributes
    ----------
    adapter_id_ : str
        12 hex digits of the sha256 of the adapter weights and their shape parameters.
    base_model_id_ : str
        ``model_id_`` of the encoder it was trained on; :meth:`apply` accepts only such an encoder.
    loss_history_ : list of float
        Training loss of every step.
    n_pairs_ : int
        Distinct pairs trained on; ``pairs_seen_`` counts them once per epoch done.
    epochs_done_ : float
        Epochs completed (fractional when the time budget stopped training).
    seconds_ : float
        Training wall time.

    Examples
    --------
    >>> tuner = EncoderFineTuner(r=8, epochs=2, time_budget_s=60)
    >>> tuner.batch_size
    32
    """

    def __init__(self, r: int = 8, alpha: float = 16, dropout: float = 0.05,
                 target_modules: tuple[str, ...] = ("query", "value"), epochs: int = 1, batch_size: int = 32,
                 lr: float = 2e-4, scale: float = 20.0, max_pairs: int = 100_000,
                 time_budget_s: float | None = None, seed: int = 0):
        self.r = r
        self.alpha = alpha
        self.dropout = dropout
        self.target_modules = target_modules
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.scale = scale
        self.max_pairs = max_pairs
        self.time_budget_s = time_budget_s
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout,
                "target_modules": list(self.target_modules), "epochs": self.epochs, "batch_size": self.batch_size,
                "lr": self.lr, "scale": self.scale, "max_pairs": self.max_pairs,
                "time_budget_s": self.time_budget_s, "seed": self.seed}

    # ---------------------------------------------------------------- checks
    def _validate(self, texts_a: Sequence[str], texts_b: Sequence[str], weights: Any) -> None:
        def integer(name: str, value: Any, low: int, example: str) -> None:
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} is {value!r}; it must be an integer >= {low} (e.g. {example})")

        integer("r", self.r, 1, "8")
        integer("epochs", self.epochs, 1, "1")
        integer("batch_size", self.batch_size, 2, "32")
        integer("max_pairs", self.max_pairs, 1, "100_000")
        for name, value in (("alpha", self.alpha), ("lr", self.lr), ("scale", self.scale)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} is {value!r}; it must be a number > 0 (defaults: alpha=16, lr=2e-4, "
                                  "scale=20)")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout is {self.dropout!r}; it must be a number in [0, 1) (e.g. 0.05)")
        if self.time_budget_s is not None and not (isinstance(self.time_budget_s, (int, float))
                                                   and self.time_budget_s > 0):
            raise ConfigError(f"time_budget_s is {self.time_budget_s!r}; it must be a number of seconds > 0, "
                              "or None for no limit")
        if isinstance(self.target_modules, str) or not self.target_modules:
            raise ConfigError(f"target_modules is {self.target_modules!r}; give a non-empty tuple of layer names, "
                              "e.g. ('query', 'value')")
        if len(texts_a) != len(texts_b):
            raise ConfigError(f"texts_a has {len(texts_a):,} texts but texts_b has {len(texts_b):,}; they are the two "
                              "sides of the same pairs and must have equal lengths")
        if len(texts_a) < 2:
            raise ConfigError(f"fine-tuning needs at least 2 pairs (in-batch negatives); got {len(texts_a)}")
        if weights is not None and (len(weights) != len(texts_a) or np.any(~np.isfinite(weights))
                                    or np.any(np.asarray(weights) < 0) or not np.any(np.asarray(weights) > 0)):
            raise ConfigError(f"weights must hold one finite value >= 0 per pair ({len(texts_a):,}), not all zero; "
                              f"got {len(weights):,} values")

    def _check_fitted(self) -> None:
        if not hasattr(self, "adapter_state_"):
            raise NotFittedError("this EncoderFineTuner has no adapter yet; call fit() first (or load_finetuner)")

    def _lora_config(self) -> Any:
        from peft import LoraConfig

        return LoraConfig(r=int(self.r), lora_alpha=float(self.alpha), lora_dropout=float(self.dropout),
                          target_modules=list(self.target_modules), bias="none")

    # ---------------------------------------------------------------- fit
    def fit(self, encoder: Any, texts_a: Sequence[str], texts_b: Sequence[str], weights: Sequence[float] | None = None,
            progress: Progress = NULL_PROGRESS) -> EncoderFineTuner:
        """Train adapters so that ``texts_a[i]`` and ``texts_b[i]`` embed close together.

        The encoder itself is left unchanged (training runs on a copy of its model); call :meth:`apply`.

        Parameters
        ----------
        encoder : ProductEncoder
            Fitted, or fitted here on ``texts_a + texts_b``.
        texts_a, texts_b : sequences of str, same length n
            The two sides of each pair (e.g. from :func:`copurchase_pairs`).
        weights : sequence of float, shape (n,), optional
            Per-pair loss weights (default equal).
        progress : Progress
            Advanced once per step.

        Returns
        -------
        EncoderFineTuner
            self

        Raises
        ------
        ConfigError
            A parameter is out of range, the sides differ in length, or a target module does not exist.
        """
        import torch
        from peft import get_peft_model, get_peft_model_state_dict

        texts_a = ["" if t is None else str(t) for t in texts_a]
        texts_b = ["" if t is None else str(t) for t in texts_b]
        self._validate(texts_a, texts_b, weights)
        if not hasattr(encoder, "model_"):
            encoder.fit(texts_a + texts_b)
        t_start = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        n = len(texts_a)
        keep = np.sort(rng.choice(n, size=self.max_pairs, replace=False)) if n > self.max_pairs else np.arange(n)
        w_all = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        w_all = w_all[keep]
        prepared_a = encoder.prepare([texts_a[i] for i in keep])
        prepared_b = encoder.prepare([texts_b[i] for i in keep])
        # every distinct text is tokenised once; a batch encodes each of its distinct texts once
        uniq = sorted(set(prepared_a) | set(prepared_b))
        index = {t: i for i, t in enumerate(uniq)}
        key_a = np.array([index[t] for t in prepared_a], dtype=np.int64)
        key_b = np.array([index[t] for t in prepared_b], dtype=np.int64)
        tokenizer, base = encoder.torch_modules()
        token_ids = tokenizer(uniq, truncation=True, max_length=encoder.max_length, add_special_tokens=True,
                              return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        pad = int(tokenizer.pad_token_id)
        device = encoder.device_

        torch.manual_seed(self.seed)
        model = copy.deepcopy(base)
        _check_targets(model, self.target_modules)
        peft_model = _wrap(get_peft_model, model, self._lora_config())
        peft_model.train()  # dropout on, as in sentence-transformers training
        params = [p for p in peft_model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=float(self.lr))
        n_keep = len(keep)
        steps_per_epoch = -(-n_keep // self.batch_size)
        losses: list[float] = []
        seen = 0
        stopped = False
        log.info("LoRA fine-tuning %s: %d pairs (%d distinct texts), r=%d, %d epoch(s) of %d steps", encoder.model_id_,
                 n_keep, len(uniq), self.r, self.epochs, steps_per_epoch)
        with progress.task(f"fine-tuning LoRA on {n_keep:,} pairs", total=self.epochs * steps_per_epoch) as task:
            for epoch in range(self.epochs):
                order = rng.permutation(n_keep)
                epoch_losses = []
                for start in range(0, n_keep, self.batch_size):
                    rows = order[start:start + self.batch_size]
                    if len(rows) < 2:  # a lone pair has no negatives
                        continue
                    loss = self._step(peft_model, optimizer, token_ids, pad, device, key_a[rows], key_b[rows],
                                      w_all[rows])
                    losses.append(loss)
                    epoch_losses.append(loss)
                    seen += len(rows)
                    task.advance(1)
                    if len(losses) % LOG_EVERY == 0:
                        elapsed = time.perf_counter() - t_start
                        log.info("step %d/%d: loss %.4f (mean of last %d), %.1f pairs/s", len(losses),
                                 self.epochs * steps_per_epoch, float(np.mean(losses[-LOG_EVERY:])), LOG_EVERY,
                                 seen / max(elapsed, 1e-9))
                    if self.time_budget_s is not None and time.perf_counter() - t_start >= self.time_budget_s:
                        stopped = True
                        break
                log.info("epoch %d: mean loss %.4f over %d steps%s", epoch + 1, float(np.mean(epoch_losses)),
                         len(epoch_losses), " (time budget reached)" if stopped else "")
                if stopped:
                    break
        peft_model.eval()
        state = get_peft_model_state_dict(peft_model)
        self.adapter_state_ = {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in state.items()}
        self.adapter_id_ = self._hash()
        self.base_model_id_ = str(encoder.model_id_)
        self.loss_history_ = losses
        self.n_pairs_ = int(n_keep)
        self.pairs_seen_ = int(seen)
        self.epochs_done_ = seen / n_keep
        self.seconds_ = time.perf_counter() - t_start
        log.info("LoRA adapter %s: %d steps, loss %.4f -> %.4f, %.1f pairs/s, %.1f s", self.adapter_id_, len(losses),
                 float(np.mean(losses[:LOG_EVERY])), float(np.mean(losses[-LOG_EVERY:])),
                 seen / max(self.seconds_, 1e-9), self.seconds_)
        return self

    def _step(self, model: Any, optimizer: Any, token_ids: list[list[int]], pad: int, device: str,
              ka: np.ndarray, kb: np.ndarray, w: np.ndarray) -> float:
        import torch
        import torch.nn.functional as F

        distinct, inverse = np.unique(np.concatenate([ka, kb]), return_inverse=True)
        lengths = np.array([len(token_ids[k]) for k in distinct], dtype=np.int64)
        batch = np.full((len(distinct), int(lengths.max())), pad, dtype=np.int64)
        for j, k in enumerate(distinct):
            batch[j, : lengths[j]] = token_ids[k]
        input_ids = torch.from_numpy(batch).to(device)
        mask = (torch.arange(batch.shape[1])[None, :] < torch.from_numpy(lengths)[:, None]).to(device)
        hidden = model(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        vec = F.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1.0), p=2.0, dim=1)  # encode()'s pooling
        n = len(ka)
        ia, ib = torch.from_numpy(inverse[:n]).to(device), torch.from_numpy(inverse[n:]).to(device)
        logits = self.scale * vec[ia] @ vec[ib].T  # (n, n): row i = a_i against every b_j
        # In-batch false negatives: b_j with the same text as b_i (identical logit, wrong label), as a_i
        # itself (cosine 1 can't be pushed down), or b_j partnering the same a (another true complement).
        same_a, same_b = ka[:, None] == ka[None, :], kb[:, None] == kb[None, :]
        mask_ab = same_a | same_b | (ka[:, None] == kb[None, :])
        mask_ba = same_a | same_b | (kb[:, None] == ka[None, :])
        np.fill_diagonal(mask_ab, False)
        np.fill_diagonal(mask_ba, False)
        labels = torch.arange(n, device=device)
        loss_ab = F.cross_entropy(logits.masked_fill(torch.from_numpy(mask_ab).to(device), _MASKED), labels,
                                  reduction="none")
        loss_ba = F.cross_entropy(logits.T.masked_fill(torch.from_numpy(mask_ba).to(device), _MASKED), labels,
                                  reduction="none")
        weight = torch.from_numpy(w).to(device, torch.float32)
        loss = ((loss_ab + loss_ba) / 2 * weight).sum() / weight.sum().clamp(min=1e-12)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def _hash(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps({"r": int(self.r), "alpha": float(self.alpha),
                             "target_modules": sorted(self.target_modules)}, sort_keys=True).encode())
        for k in sorted(self.adapter_state_):
            h.update(k.encode())
            h.update(self.adapter_state_[k].numpy().tobytes())
        return h.hexdigest()[:12]

    # ---------------------------------------------------------------- use
    def apply(self, encoder: Any) -> Any:
        """Merge the adapter into ``encoder`` (in place): its ``encode`` then gives the tuned vectors and its
        ``model_id_`` gains ``;lora=<adapter_id_>``.

        Parameters
        ----------
        encoder : ProductEncoder
            Fitted (or fitted here), with the ``model_id_`` the adapter was trained on.

        Returns
        -------
        ProductEncoder
            ``encoder``

        Raises
        ------
        ConfigError
            The encoder is another model (or already carries this adapter).
        """
        from peft import get_peft_model, set_peft_model_state_dict

        self._check_fitted()
        if not hasattr(encoder, "model_") and encoder.model != "auto":
            encoder.fit()
        if getattr(encoder, "model_id_", None) != self.base_model_id_:
            raise ConfigError(f"adapter {self.adapter_id_} was trained on encoder {self.base_model_id_!r}, but this "
                              f"encoder is {getattr(encoder, 'model_id_', None)!r}; apply it to a fresh ProductEncoder "
                              "with the same model and max_length")
        # merged into a copy, then swapped in: a failure leaves the encoder as it was
        peft_model = _wrap(get_peft_model, copy.deepcopy(encoder.model_), self._lora_config())
        set_peft_model_state_dict(peft_model, self.adapter_state_)
        encoder.model_ = peft_model.merge_and_unload().eval()
        encoder.model_id_ = f"{self.base_model_id_};lora={self.adapter_id_}"
        log.info("applied LoRA adapter %s: encoder is now %s", self.adapter_id_, encoder.model_id_)
        return encoder

    def save(self, path: str | Path) -> Path:
        """Write ``adapter.safetensors`` (the LoRA weights) and ``adapter.json`` (parameters, ids, training
        record) into the folder ``path`` (created when missing). Returns the folder."""
        from safetensors.torch import save_file

        from bundlewise._version import __version__

        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "params": self.get_params(), "adapter_id": self.adapter_id_,
                "base_model_id": self.base_model_id_, "n_pairs": self.n_pairs_, "pairs_seen": self.pairs_seen_,
                "epochs_done": self.epochs_done_, "seconds": self.seconds_, "loss_history": self.loss_history_,
                "bundlewise_version": __version__}
        for name, write in ((WEIGHTS_FILE, lambda p: save_file(self.adapter_state_, str(p))),
                            (META_FILE, lambda p: p.write_text(json.dumps(meta, indent=1)))):
            tmp = folder / (name + ".tmp")
            write(tmp)
            tmp.replace(folder / name)  # complete files only: an interrupted save leaves the old one
        return folder


def load_finetuner(path: str | Path) -> EncoderFineTuner:
    """The fitted :class:`EncoderFineTuner` saved in ``path`` by :meth:`EncoderFineTuner.save`.

    Raises
    ------
    ConfigError
        ``path`` is not such a folder, or its weights do not match its recorded id (damaged).
    """
    from safetensors.torch import load_file

    folder = Path(path)
    meta_path, weights_path = folder / META_FILE, folder / WEIGHTS_FILE
    if not meta_path.is_file() or not weights_path.is_file():
        raise ConfigError(f"{folder} is not a LoRA adapter folder: it needs {META_FILE} and {WEIGHTS_FILE} "
                          "(write one with EncoderFineTuner.save(path))")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{meta_path} has format {meta.get('format')!r}; this version reads {FORMAT!r}")
    params = dict(meta["params"])
    params["target_modules"] = tuple(params["target_modules"])
    tuner = EncoderFineTuner(**params)
    tuner.adapter_state_ = load_file(str(weights_path))
    tuner.adapter_id_ = tuner._hash()
    if tuner.adapter_id_ != meta["adapter_id"]:
        raise ConfigError(f"{weights_path} hashes to adapter {tuner.adapter_id_}, but {meta_path} records "
                          f"{meta['adapter_id']}: the folder is damaged; fine-tune again")
    tuner.base_model_id_ = meta["base_model_id"]
    tuner.n_pairs_, tuner.pairs_seen_ = int(meta["n_pairs"]), int(meta["pairs_seen"])
    tuner.epochs_done_, tuner.seconds_ = float(meta["epochs_done"]), float(meta["seconds"])
    tuner.loss_history_ = [float(x) for x in meta["loss_history"]]
    return tuner


def _wrap(get_peft_model: Any, model: Any, config: Any) -> Any:
    import warnings

    with warnings.catch_warnings():
        # peft 0.21 asks transformers 5.23 a deprecated question (is_gradient_checkpointing); not ours to fix
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def _check_targets(model: Any, targets: Sequence[str]) -> None:
    import torch

    linear = sorted({name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
                     if isinstance(mod, torch.nn.Linear)})
    missing = [t for t in targets if t not in linear]
    if missing:
        raise ConfigError(f"target_modules {missing!r} are not linear layers of this model; allowed: "
                          f"{', '.join(map(repr, linear))}")
