"""The feedforward network and the paper's hybrid VAR-FNN (honest and nowcast variants), in torch on the CPU.

The network (default 32-16 ReLU) is trained with Adam (learning rate 1e-3, batch 8, at most 50 epochs) on
standardised inputs and target, and stops early when the loss on a validation block (the last fifth of the training
windows, after a gap of ``lags`` windows) has not improved for ``patience`` epochs; the best epoch's weights are kept.
Only the most recent ``max_train`` training windows are used, to keep a day of per-second windows fast.

The hybrid fits VAR(p) on the training windows and a network on its residuals (buy, sell and OFI residuals of each
window); the forecast is the VAR's OFI plus the network's residual forecast. The **honest** variant feeds the
residuals of the ``lags`` windows before the target; the **nowcast** variant feeds the residual of the target window
itself and the ones before it, which holds the answer: that is how a hybrid reaches R^2 near 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from scenarios.forecast.data import FlowSeries
from scenarios.forecast.forecasters import (
    Forecaster,
    Prediction,
    Standardizer,
    VectorAutoRegressive,
    flow_features,
    lag_matrix,
    ofi_of_counts,
)
from simlab.errors import DataError, ParameterError

ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class NetworkSettings:
    """Architecture and training of the feedforward network."""

    layers: tuple[int, ...] = (32, 16)
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 8
    max_epochs: int = 50
    patience: int = 5
    max_train: int = 4096

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS or self.optimizer not in OPTIMIZERS:
            raise ParameterError(
                f"`activation` and `optimizer` of NetworkSettings must be in {sorted(ACTIVATIONS)} and {OPTIMIZERS}; "
                f"got {self.activation!r} and {self.optimizer!r}"
            )


def _network(inputs: int, settings: NetworkSettings, generator: torch.Generator) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    width = inputs
    for units in settings.layers:
        linear = torch.nn.Linear(width, units)
        _initialise(linear, generator)
        layers += [linear, ACTIVATIONS[settings.activation]()]
        width = units
    head = torch.nn.Linear(width, 1)
    _initialise(head, generator)
    return torch.nn.Sequential(*layers, head)


def _initialise(linear: torch.nn.Linear, generator: torch.Generator) -> None:
    bound = 1.0 / np.sqrt(linear.in_features)
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound, generator=generator)
        linear.bias.uniform_(-bound, bound, generator=generator)


def train_network(
    x: np.ndarray, y: np.ndarray, settings: NetworkSettings, rng: np.random.Generator, gap: int
) -> tuple[torch.nn.Sequential, Standardizer, Standardizer, int]:
    """Train a network on rows x (n, p) -> y (n,) in time order; return it, the input and target scalers (fitted on
    the fitting rows only) and the number of epochs run.

    The last fifth of the rows is the validation block for early stopping; the ``gap`` rows before it (the inputs'
    lags) are left out so that no validation input holds a fitting target.
    """
    n = x.shape[0]
    keep = slice(max(0, n - settings.max_train), n)
    x, y = x[keep], y[keep]
    n_val = max(1, x.shape[0] // 5)
    if x.shape[0] - n_val - gap < 2:
        raise DataError(
            f"the network needs >= {n_val + gap + 2} training windows (validation {n_val}, gap {gap}); got {x.shape[0]}"
        )
    fit_x, fit_y = x[: -(n_val + gap)], y[: -(n_val + gap)]
    val_x, val_y = x[-n_val:], y[-n_val:]
    x_scale, y_scale = Standardizer(fit_x), Standardizer(fit_y[:, None])
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    tx, ty = _tensor(x_scale(fit_x)), _tensor(y_scale(fit_y[:, None]))
    vx, vy = _tensor(x_scale(val_x)), _tensor(y_scale(val_y[:, None]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = _network(x.shape[1], settings, generator)
        epochs = _loop(net, tx, ty, vx, vy, settings, generator)
    finally:
        torch.set_num_threads(threads)
    return net, x_scale, y_scale, epochs


def _loop(net, tx, ty, vx, vy, settings: NetworkSettings, generator: torch.Generator) -> int:
    optimizer_class = torch.optim.Adam if settings.optimizer == "adam" else torch.optim.SGD
    optimizer = optimizer_class(net.parameters(), lr=settings.learning_rate)
    best, best_state, waited, ran = np.inf, None, 0, 0
    for epoch in range(1, settings.max_epochs + 1):
        ran = epoch
        order = torch.randperm(tx.shape[0], generator=generator)
        for start in range(0, tx.shape[0], settings.batch_size):
            batch = order[start : start + settings.batch_size]
            optimizer.zero_grad()
            loss = torch.mean((net(tx[batch]) - ty[batch]) ** 2)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val = float(torch.mean((net(vx) - vy) ** 2))
        if val < best - 1e-6:
            best, waited = val, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= settings.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    return ran


def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(values), dtype=torch.float32)


def network_predict(net, x_scale: Standardizer, y_scale: Standardizer, x: np.ndarray) -> np.ndarray:
    """Return the network's forecasts (m,) in the target's units for rows x (m, p)."""
    with torch.no_grad():
        out = net(_tensor(x_scale(x))).numpy()[:, 0].astype(np.float64)
    return out * y_scale.std[0] + y_scale.mean[0]


class FeedForward(Forecaster):
    """Feedforward network on lagged (buy, sell, OFI) of ``lags`` windows, forecasting the next OFI."""

    name = "fnn"

    def __init__(self, lags: int = 5, settings: NetworkSettings | None = None) -> None:
        self.lags = lags
        self.settings = settings or NetworkSettings()

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        x = lag_matrix(flow_features(series), train, self.lags)
        self.net_, self.x_scale_, self.y_scale_, self.epochs_ = train_network(
            x, series.ofi[train], self.settings, rng, self.lags
        )
        return self

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        x = lag_matrix(flow_features(series), index, self.lags)
        return Prediction(np.clip(network_predict(self.net_, self.x_scale_, self.y_scale_, x), -1, 1))


class Hybrid(Forecaster):
    """The hybrid VAR-FNN: VAR(p) on counts plus a network on its residuals (``nowcast`` selects the variant)."""

    def __init__(self, lags: int = 5, *, nowcast: bool = False, settings: NetworkSettings | None = None) -> None:
        self.var_lags = lags
        self.nowcast = nowcast
        self.settings = settings or NetworkSettings()
        self.name = "hybrid_nowcast" if nowcast else "hybrid_honest"
        self.honest = not nowcast
        # residual r_j needs the VAR's p windows before j; the honest network reads r_{k-1} .. r_{k-p}, the
        # nowcast one r_k .. r_{k-p+1}
        self.lags = 2 * lags - 1 if nowcast else 2 * lags

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        self.var_ = VectorAutoRegressive(self.var_lags).fit(series, train, rng)
        x = self._inputs(series, train)
        target = series.ofi[train] - self._var_ofi(series, train)
        self.net_, self.x_scale_, self.y_scale_, self.epochs_ = train_network(x, target, self.settings, rng, self.lags)
        return self

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        residual = network_predict(self.net_, self.x_scale_, self.y_scale_, self._inputs(series, index))
        return Prediction(np.clip(self._var_ofi(series, index) + residual, -1, 1))

    def _var_ofi(self, series: FlowSeries, index: np.ndarray) -> np.ndarray:
        return ofi_of_counts(self.var_.counts(series, index))

    def _residuals(self, series: FlowSeries, index: np.ndarray) -> np.ndarray:
        counts = self.var_.counts(series, index)
        actual = flow_features(series)[index]
        return actual - np.column_stack([counts, ofi_of_counts(counts)])

    def _inputs(self, series: FlowSeries, index: np.ndarray) -> np.ndarray:
        shift = 0 if self.nowcast else 1
        return np.column_stack([self._residuals(series, index - shift - j) for j in range(self.var_lags)])
