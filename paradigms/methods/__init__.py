"""The methods layer: the method registry, command-line name → method class (DESIGN.md §5).

SDMI (online/target branches, alternating E/M updates): ``sdmi``, ``simsiam``, ``byol``,
``mocov2``, ``mocov3``. JMI (one shared encoder, joint gradients): ``jmi``, ``jmi-taylor``,
``simclr``, ``barlow``, ``vicreg``. Every class takes ``(backbone, feature_dim, *, ablate=...,
**hyperparameters)``; each file states its defaults and their source.

Below the method files: ``base`` (what the training loop needs from every method), the paradigm
bases ``sdmi_base`` and ``jmi_base``, the losses (``objectives``) and the ``--ablate`` switches
(``ablations``).
"""

from __future__ import annotations

from paradigms.methods.barlow import BarlowTwins
from paradigms.methods.base import SSLMethod
from paradigms.methods.byol import BYOL
from paradigms.methods.jmi import JMI, JMITaylor
from paradigms.methods.mocov2 import MoCoV2
from paradigms.methods.mocov3 import MoCoV3
from paradigms.methods.sdmi import SDMI
from paradigms.methods.simclr import SimCLR
from paradigms.methods.simsiam import SimSiam
from paradigms.methods.vicreg import VICReg

METHODS: dict[str, type[SSLMethod]] = {
    cls.name: cls
    for cls in (SDMI, SimSiam, BYOL, MoCoV2, MoCoV3, JMI, JMITaylor, SimCLR, BarlowTwins, VICReg)
}


def get_method(name: str) -> type[SSLMethod]:
    """Method class by registry name; a clear ``ValueError`` for unknown names."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of: {', '.join(METHODS)}")
    return METHODS[name]


__all__ = ["METHODS", "get_method"]
