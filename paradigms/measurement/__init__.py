"""The measurement layer: what the training loop (or any other loop) reads off a model.

- :mod:`paradigms.measurement.monitors`: MI estimates, collapse and cluster read-outs of held-out
  embeddings (:func:`~paradigms.measurement.monitors.monitor` for any loop).
- :mod:`paradigms.measurement.probes`: linear and kNN probes of frozen features.
- :mod:`paradigms.measurement.metric_logs`: CSV and TensorBoard writers of monitor records.
- :mod:`paradigms.measurement.lightning_monitor`: the monitors as a PyTorch Lightning callback.
- :mod:`paradigms.measurement.profiling`: counts of host syncs and dispatched ops.

It imports nothing from the training layer. Submodules are imported explicitly.
"""
