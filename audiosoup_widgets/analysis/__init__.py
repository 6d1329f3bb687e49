"""Dataset-level analysis of plain arrays and tables: quality findings, projections, comparisons.

Pure code, like :mod:`~audiosoup_widgets.features` and :mod:`~audiosoup_widgets.audio`:
numpy, pandas and scikit-learn in, plain results out; no SQL and no UI. The jobs read
what it needs from the store and write its results back.
"""
