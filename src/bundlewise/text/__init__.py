"""The language-model encoder of product texts and its embedding cache in the warehouse.

Heavy libraries (torch, transformers) load only when an encoder is fitted.
"""

from bundlewise.text.cache import EmbeddingResult, embed_texts, text_sha256
from bundlewise.text.encoder import MODELS, ProductEncoder, choose_model
from bundlewise.text.jobs import embed_catalog, with_embeddings
from bundlewise.text.templates import DEFAULT_TEMPLATE, contains_cjk_share, product_texts

__all__ = ["DEFAULT_TEMPLATE", "MODELS", "EmbeddingResult", "ProductEncoder", "choose_model", "contains_cjk_share",
           "embed_catalog", "embed_texts", "product_texts", "text_sha256", "with_embeddings"]
