"""Multivariate linear Hawkes processes: parameters, exact simulation and closed forms."""

from simlab.hawkes.params import HawkesParams

__all__ = ["HawkesParams"]
