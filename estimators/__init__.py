"""MI estimators: bounds on a critic-score matrix, critics, neural fit-and-estimate, KSG, Gaussian.

Everything is in nats unless a ``base`` is asked for. See DESIGN.md §3 for the formulas.

    from estimators import bounds, estimate_mi, METHODS
    r = estimate_mi(x, y, method="smile", seed=0, device="cpu")   # r.mi, r.ci, r.method
    rs = estimate_mi_many([(x1, y1), (x2, y2)], "infonce", seeds=[0, 1])  # critics side by side
    c = estimate_mi(x, y, method="infonce", return_critic=True).critic
    c.estimate(x_new, y_new); c.save("critic.pt"); load_critic("critic.pt")
"""

from estimators import bounds
from estimators.api import METHODS, estimate_mi, estimate_mi_many
from estimators.result import MIResult
from estimators.trained import TrainedCritic, load_critic

__all__ = [
    "METHODS", "MIResult", "TrainedCritic", "bounds", "estimate_mi", "estimate_mi_many",
    "load_critic",
]
