"""Jobs: dataset-wide work over the store and the pure code, with one worker-pool policy.

* :mod:`~audiosoup_widgets.jobs.ingest`: discover a dataset's files, decode them,
  store them with their quality measures (:func:`~audiosoup_widgets.jobs.ingest.load_dataset`);
* :mod:`~audiosoup_widgets.jobs.quality`: the quality measures of clips stored before
  (:func:`~audiosoup_widgets.jobs.quality.backfill_quality`);
* :mod:`~audiosoup_widgets.jobs.compute` and :mod:`~audiosoup_widgets.jobs.compute_batch`:
  feature summaries of every sample (:func:`~audiosoup_widgets.jobs.compute.compute_dataset`);
* :mod:`~audiosoup_widgets.jobs.frames`: stored summaries as a DataFrame;
* :mod:`~audiosoup_widgets.jobs.export` and :mod:`~audiosoup_widgets.jobs.provenance`:
  feature exports and the one provenance every export carries;
* :mod:`~audiosoup_widgets.jobs.pool` (the policy and the local pool),
  :mod:`~audiosoup_widgets.jobs.decodepool` (files under deadlines) and
  :mod:`~audiosoup_widgets.jobs.dask`: where the work runs.

Nothing is imported here, so a worker that only computes a batch does not load
pandas or the export formats.
"""
