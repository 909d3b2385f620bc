"""Everything nnlite shows: rendering with rich in the terminal, with matplotlib in PNG files.

One module per view: ``terminal`` (the consoles, the one-line error and warning),
``format`` (numbers as every view shows them), ``progress`` (training and download bars),
``tables`` (the main commands' tables and text charts), ``digits`` (images, predictions,
confusion tables), ``trace`` (a training step in the lesson's formulas), ``lesson``
(``nnlite lesson`` and ``gradcheck``), ``compare`` (``nnlite compare``), ``plot`` (PNG files),
``fit_progress`` (``fit(verbose=1|2)``: Keras's epoch lines and bar) and ``model_summary``
(``nnlite.keras``'s ``summary()`` table).

The library core never imports this package, except through two doors opened inside a
function when something is to be shown: ``Sequential.fit(verbose=...)`` and the Keras
front end ``nnlite.keras.models``; ``cli.py`` does. It re-exports nothing, so
importing one view does not import rich's progress bars or matplotlib with it.
"""
