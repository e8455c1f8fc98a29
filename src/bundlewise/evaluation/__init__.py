"""The evaluation harness: a leak-free temporal split, ranking metrics, tuned baselines and the report.

Heavy libraries (gensim, implicit, torch) load only when a model that needs them is fitted.
"""

from bundlewise.evaluation.baselines import CoOccurrence, Popularity, RandomRanker
from bundlewise.evaluation.evaluate import EvalResult, evaluate
from bundlewise.evaluation.split import EvalSplit, temporal_split
from bundlewise.evaluation.tuning import families, tune_and_test
from bundlewise.evaluation.vector_baselines import ALSItemSimilarity, Item2Vec, TextCosine

__all__ = ["ALSItemSimilarity", "CoOccurrence", "EvalResult", "EvalSplit", "Item2Vec", "Popularity", "RandomRanker",
           "TextCosine", "evaluate", "families", "temporal_split", "tune_and_test"]
