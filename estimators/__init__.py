"""MI estimators: bounds on a critic-score matrix, critics, neural fit-and-estimate, KSG, Gaussian.

Everything is in nats unless a ``base`` is asked for. See DESIGN.md §3 for the formulas.
"""

from estimators.result import MIResult

__all__ = ["MIResult"]
