"""SDMI and JMI paradigms, in layers; each imports only from the layers before it
(``tests/test_layout.py`` checks this, DESIGN.md §2):

1. ``paradigms.data``: data sets and their augmentations (``load_dataset``), the batch order.
2. ``paradigms.networks``: backbones and heads (``build_backbone``).
3. ``paradigms.methods``: the registry ``METHODS`` by command-line name; the SDMI base
   (``methods.sdmi_base``) and the JMI base (``methods.jmi_base``), both on
   ``methods.base.SSLMethod``; the losses (``methods.objectives``) and the ``--ablate`` switches
   (``methods.ablations``).
4. ``paradigms.measurement``: monitors (``measurement.monitors.monitor`` for any loop), probes,
   metric logs, the Lightning callback, profiling.
5. ``paradigms.training``: ``training.loop.train(TrainConfig(...))`` (training with MI and
   collapse monitors), its configuration and recipes, optimizers, checkpoints, several processes.

``paradigms.train``, ``paradigms.monitors``, ``paradigms.metric_logs`` and
``paradigms.lightning_monitor`` are the former module paths, kept as aliases of the moved modules.
Submodules are imported explicitly; importing ``paradigms`` itself loads nothing heavy.
"""
