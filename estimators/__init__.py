"""MI estimators: bounds on a critic-score matrix, critics, neural fit-and-estimate, KSG, Gaussian.

Everything is in nats unless a ``base`` is asked for. See DESIGN.md §3 for the formulas.

    from estimators import bounds, estimate_mi, METHODS
    r = estimate_mi(x, y, method="smile", seed=0, device="cpu")   # r.mi, r.ci, r.method
"""

from estimators import bounds
from estimators.api import METHODS, estimate_mi
from estimators.result import MIResult

__all__ = ["METHODS", "MIResult", "bounds", "estimate_mi"]
