"""The learned pair model: pair features, the network, fitting, checkpoints, explanations and complements.

torch loads only when a model is fitted or a checkpoint is loaded.
"""
