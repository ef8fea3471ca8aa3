"""Multivariate linear Hawkes processes: parameters, exact simulation, marks and closed forms."""

from simlab.hawkes.marks import EmpiricalMarks, GeometricMarks, LogNormalMarks, MarkLaw
from simlab.hawkes.params import HawkesParams
from simlab.hawkes.simulate import CapReachedError, HawkesPath, hawkes_events, path_intensity, simulate_hawkes

__all__ = [
    "CapReachedError",
    "EmpiricalMarks",
    "GeometricMarks",
    "HawkesParams",
    "HawkesPath",
    "LogNormalMarks",
    "MarkLaw",
    "hawkes_events",
    "path_intensity",
    "simulate_hawkes",
]
