"""Evaluation of models: lm-evaluation-harness tasks run in the platform (``harness``), the
statistics of comparisons (``stats``) and a local judge (``judge``).

Everything in this package so far is Django-free; the Django app (models, tasks, API, pages)
builds on it.
"""
