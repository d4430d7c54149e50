"""SDMI and JMI paradigms: objectives, methods, encoders, data, training loop, monitors.

- ``paradigms.methods.METHODS``: registry of methods by command-line name (SDMI base in
  ``paradigms.sdmi``, JMI base in ``paradigms.jmi``, both on ``paradigms.base.SSLMethod``).
- ``paradigms.ablations``: the ``--ablate`` switches.
- ``paradigms.data.load_dataset`` / ``paradigms.encoders.build_backbone``: data and backbones.
- ``paradigms.train.train(TrainConfig(...))``: training with MI and collapse monitors.

Submodules are imported explicitly; importing ``paradigms`` itself loads nothing heavy.
"""
