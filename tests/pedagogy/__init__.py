"""The lesson's claims, one file per topic, each checked against an independent SciPy reference.

Each test is named after the claim it checks; read in order, the names are the lesson's
outline. The demonstrations come from ``nnlite/lessons.py``, the same functions
``nnlite lesson`` shows a learner.

Every test against a reference was run once against a deliberately broken kernel (the
update's wrong sign, a missing bias gradient, the batch mean off by one, a wrong σ′, …);
its docstring names the breakage it was seen to fail.
"""
