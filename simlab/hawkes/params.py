"""Parameters of a multivariate linear Hawkes process with sums of exponential kernels.

The intensity of dimension i is ``lambda_i(t) = mu_i + sum_j sum_k sum_{t_j < t} a_ijk b_ijk exp(-b_ijk (t - t_j))``
(tick's convention): ``baseline`` mu (d,) in events per second, ``adjacency`` a (d, d, K) the expected number of
type-i events one type-j event triggers through component k (the kernel's L1 norm), ``decays`` b (d, d, K) in 1/s.
Row i is the target, column j the source. K = 1 is the plain exponential kernel; K > 1 approximates power laws.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simlab.errors import ParameterError


@dataclass(frozen=True, eq=False)
class HawkesParams:
    """Baseline (d,), adjacency (d, d, K) and decays (d, d, K) of a Hawkes process; (d, d) inputs mean K = 1.

    ``names`` labels the dimensions (e.g. ``("buy", "sell")``). Arrays are stored read-only as float64.
    """

    baseline: np.ndarray
    adjacency: np.ndarray
    decays: np.ndarray
    names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        baseline = _array("baseline", self.baseline, 1)
        d = baseline.shape[0]
        adjacency = _kernel_array("adjacency", self.adjacency, d)
        decays = _kernel_array("decays", self.decays, d)
        if decays.shape != adjacency.shape:
            raise ParameterError(
                f"`decays` of HawkesParams must have the shape of `adjacency` {adjacency.shape}; got {decays.shape}"
            )
        _check("baseline", baseline, baseline > 0, "> 0")
        _check("adjacency", adjacency, adjacency >= 0, ">= 0")
        _check("decays", decays, decays > 0, "> 0")
        names = tuple(self.names) or tuple(f"dim{i}" for i in range(d))
        if len(names) != d:
            raise ParameterError(f"`names` of HawkesParams must have {d} labels; got {len(names)}: {names}")
        for name, value in (("baseline", baseline), ("adjacency", adjacency), ("decays", decays)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "names", names)

    @property
    def dimension(self) -> int:
        """Number of dimensions d."""
        return int(self.baseline.shape[0])

    @property
    def n_components(self) -> int:
        """Number of exponential components K per kernel."""
        return int(self.adjacency.shape[2])

    @property
    def branching_matrix(self) -> np.ndarray:
        """The (d, d) matrix of kernel L1 norms, sum over components of ``adjacency``."""
        return self.adjacency.sum(axis=2)

    @property
    def branching_ratio(self) -> float:
        """Spectral radius of the branching matrix; the process is stationary when it is < 1."""
        return float(np.max(np.abs(np.linalg.eigvals(self.branching_matrix))))

    @property
    def is_stationary(self) -> bool:
        """True when the branching ratio is < 1."""
        return self.branching_ratio < 1.0

    def excitation(self, state: Any, name: str) -> np.ndarray:
        """Return an excitation state (excess intensity per target, source and component) as a (d, d, K) array.

        A (d, d) state is accepted when K = 1. ``name`` (e.g. "`state` of expected_counts") names the argument in
        the error raised for a wrong shape, a non-finite or a negative value.
        """
        values = np.array(state, dtype=np.float64)
        if values.ndim == 2 and self.n_components == 1:
            values = values[:, :, None]
        if values.shape != self.adjacency.shape or not np.isfinite(values).all() or np.any(values < 0):
            raise ParameterError(
                f"{name} must be finite, >= 0 and of shape {self.adjacency.shape}; got shape {values.shape}"
            )
        return values

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON/TOML-ready mapping (lists of floats) that :meth:`from_dict` reads back exactly."""
        return {
            "names": list(self.names),
            "baseline": self.baseline.tolist(),
            "adjacency": self.adjacency.tolist(),
            "decays": self.decays.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HawkesParams:
        """Build parameters from :meth:`to_dict`'s mapping; unknown keys are an error."""
        unknown = set(data) - {"names", "baseline", "adjacency", "decays"}
        if unknown:
            raise ParameterError(f"HawkesParams.from_dict: unknown keys {sorted(unknown)}")
        return cls(
            baseline=np.asarray(data["baseline"], dtype=np.float64),
            adjacency=np.asarray(data["adjacency"], dtype=np.float64),
            decays=np.asarray(data["decays"], dtype=np.float64),
            names=tuple(data.get("names", ())),
        )

    def to_json(self) -> str:
        """Return :meth:`to_dict` as JSON text (for a store's ``true_params`` attribute)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HawkesParams):
            return NotImplemented
        return self.names == other.names and all(
            np.array_equal(getattr(self, n), getattr(other, n)) for n in ("baseline", "adjacency", "decays")
        )

    def __hash__(self) -> int:
        return hash((self.names, self.baseline.tobytes(), self.adjacency.tobytes(), self.decays.tobytes()))


def _array(name: str, value: Any, ndim: int) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` of HawkesParams must be numeric; got {value!r}") from exc
    if array.ndim != ndim or array.shape[0] == 0:
        raise ParameterError(f"`{name}` of HawkesParams must be a non-empty {ndim}-D array; got shape {array.shape}")
    return array


def _kernel_array(name: str, value: Any, d: int) -> np.ndarray:
    array = np.array(value, dtype=np.float64)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[:2] != (d, d) or array.shape[2] == 0:
        raise ParameterError(f"`{name}` of HawkesParams must have shape ({d}, {d}) or ({d}, {d}, K); got {array.shape}")
    return array


def _check(name: str, value: np.ndarray, ok: np.ndarray, rule: str) -> None:
    if not np.isfinite(value).all() or not ok.all():
        bad = np.argwhere(~(np.isfinite(value) & ok))[0]
        raise ParameterError(
            f"`{name}` of HawkesParams must be finite and {rule}; {name}{[int(i) for i in bad]} = {value[tuple(bad)]}"
        )
