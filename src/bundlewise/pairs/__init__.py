"""Product-pair association: evaluation harness, baselines and the learned pair model.

Heavy libraries (gensim, implicit, torch) load only when a model that needs them is fitted.
"""

from bundlewise.pairs.baselines import CoOccurrence, Popularity, RandomRanker
from bundlewise.pairs.benchmark import families, tune_and_test
from bundlewise.pairs.evaluate import EvalResult, evaluate
from bundlewise.pairs.split import EvalSplit, temporal_split
from bundlewise.pairs.vector_baselines import ALSItemSimilarity, Item2Vec, TextCosine

__all__ = ["ALSItemSimilarity", "CoOccurrence", "EvalResult", "EvalSplit", "Item2Vec", "Popularity", "RandomRanker",
           "TextCosine", "evaluate", "families", "temporal_split", "tune_and_test"]
