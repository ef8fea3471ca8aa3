"""Realism metrics: stylized facts, LOB-Bench-style distances, a discriminative score and the scorecard.

:func:`simlab.metrics.scorecard.score` scores a synthetic dataset against a real one on all of them.
"""
