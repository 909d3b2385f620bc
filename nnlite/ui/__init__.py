"""Everything nnlite shows: rendering with rich in the terminal, with matplotlib in PNG files.

One module per view: ``terminal`` (the consoles, the one-line error and warning),
``format`` (numbers as every view shows them), ``progress`` (training and download bars),
``tables`` (the main commands' tables and text charts), ``digits`` (images, predictions,
confusion tables), ``trace`` (a training step in the lesson's formulas), ``lesson``
(``nnlite lesson`` and ``gradcheck``), ``compare`` (``nnlite compare``), ``plot`` (PNG files).

The library core never imports this package; ``cli.py`` does. It re-exports nothing, so
importing one view does not import rich's progress bars or matplotlib with it.
"""
