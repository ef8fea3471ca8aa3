"""Deep order-flow forecasters in torch: a DeepLOB-style CNN-LSTM over book levels and a small transformer over
event sequences, behind the benchmark's fit / predict interface.

* ``deeplob`` (after Zhang, Zohren and Roberts 2019): convolutions (1 x 2, stride 2) pair each level's price and
  size, then ask with bid, a (1 x levels) convolution spans the book, each followed by a (3 x 1) convolution over
  time; an inception module (1x1 -> 3x1, 1x1 -> 5x1, 3x1 max-pool -> 1x1) and an LSTM over the ``window`` rows feed
  a linear head.
* ``event_transformer``: the ``window`` last event tokens (kind, side, price distance, size, inter-arrival, touch
  sizes), a linear embedding plus a learned position embedding, one encoder layer (2 heads, no dropout), the last
  token's output into a linear head.

Both train with Adam on cross-entropy (classification tasks) or squared error on the standardised target
(regression), in time order with a validation block (the last fifth of the training origins, purged of the origins
whose label reaches it) for early stopping after ``min_epochs`` (a deep stack sits on a plateau for the
first epochs), keeping the best epoch. Every weight is drawn from a
``torch.Generator`` seeded from the fold's numpy stream (never the global torch seed), so one seed gives the same
weights and forecasts on the CPU. Inputs are normalised with statistics of the training origins' rows only.
Training runs on CUDA when it is present, otherwise on the CPU with ``threads`` threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from scenarios.forecast.books import Normaliser, windows
from scenarios.forecast.forecasters import Forecaster, Prediction
from scenarios.forecast.task_data import TaskData, prediction
from simlab.errors import DataError, ParameterError

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class DeepSettings:
    """Size and training of a deep forecaster; :data:`PRESETS` holds the named ones."""

    window: int = 20
    channels: int = 8
    hidden: int = 16
    epochs: int = 15
    min_epochs: int = 8
    patience: int = 3
    batch_size: int = 64
    learning_rate: float = 2e-3
    max_train: int = 4000
    threads: int = 1


PRESETS = {
    "tiny": DeepSettings(
        window=5, channels=8, hidden=16, epochs=20, min_epochs=10, patience=4, batch_size=16, learning_rate=3e-3
    ),
    "cpu": DeepSettings(),
    "full": DeepSettings(
        window=100, channels=32, hidden=64, epochs=50, min_epochs=10, patience=5, batch_size=32, max_train=50_000
    ),
}


class _ConvTime(nn.Sequential):
    def __init__(self, c_in: int, c: int, kernel: tuple[int, int], stride: tuple[int, int]) -> None:
        super().__init__(
            nn.Conv2d(c_in, c, kernel, stride=stride),
            nn.LeakyReLU(0.01),
            nn.Conv2d(c, c, (3, 1), padding=(1, 0)),
            nn.LeakyReLU(0.01),
        )


class DeepLOBNet(nn.Module):
    """The DeepLOB-style network: (batch, window, 4 levels) -> (batch, outputs)."""

    def __init__(self, levels: int, channels: int, hidden: int, outputs: int) -> None:
        super().__init__()
        c = channels
        self.convs = nn.Sequential(_ConvTime(1, c, (1, 2), (1, 2)), _ConvTime(c, c, (1, 2), (1, 2)))
        self.span = _ConvTime(c, c, (1, levels), (1, 1))
        self.branches = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(c, c, 1), nn.LeakyReLU(0.01), nn.Conv2d(c, c, (3, 1), padding=(1, 0))),
                nn.Sequential(nn.Conv2d(c, c, 1), nn.LeakyReLU(0.01), nn.Conv2d(c, c, (5, 1), padding=(2, 0))),
                nn.Sequential(nn.MaxPool2d((3, 1), stride=1, padding=(1, 0)), nn.Conv2d(c, c, 1)),
            ]
        )
        self.lstm = nn.LSTM(3 * c, hidden, batch_first=True)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.span(self.convs(x[:, None]))
        z = torch.cat([torch.nn.functional.leaky_relu(b(z), 0.01) for b in self.branches], dim=1)
        out, _ = self.lstm(z[..., 0].transpose(1, 2))
        return self.head(out[:, -1])


class EventTransformerNet(nn.Module):
    """The event-sequence transformer: (batch, window, features) -> (batch, outputs)."""

    def __init__(self, features: int, window: int, width: int, outputs: int) -> None:
        super().__init__()
        self.embed = nn.Linear(features, width)
        self.position = nn.Parameter(torch.zeros(window, width))
        layer = nn.TransformerEncoderLayer(width, 2, 2 * width, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(x) + self.position)[:, -1])


def initialise(net: nn.Module, generator: torch.Generator) -> None:
    """Draw every weight of ``net`` from ``generator``: PyTorch's default uniform bounds for linear, convolution
    and LSTM weights, Glorot-uniform attention projections with zero biases, N(0, 0.02^2) position embeddings;
    layer norms keep their constant start."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv3d)):
                bound = 1.0 / np.sqrt(module.weight[0].numel())
                module.weight.uniform_(-bound, bound, generator=generator)
                module.bias.uniform_(-bound, bound, generator=generator)
            elif isinstance(module, nn.LSTM):
                bound = 1.0 / np.sqrt(module.hidden_size)
                for p in module.parameters():
                    p.uniform_(-bound, bound, generator=generator)
            elif isinstance(module, nn.MultiheadAttention):
                fan_out, fan_in = module.in_proj_weight.shape
                bound = np.sqrt(6.0 / (fan_in + fan_out))
                module.in_proj_weight.uniform_(-bound, bound, generator=generator)
                module.in_proj_bias.zero_()
        for name, p in net.named_parameters():
            if name == "position":
                p.normal_(0.0, 0.02, generator=generator)


class DeepForecaster(Forecaster):
    """Base of the torch forecasters: inputs per origin, training and prediction (see the module docstring)."""

    levels = 1

    def __init__(self, settings: DeepSettings | None = None) -> None:
        self.settings = settings or DeepSettings()
        self.lags = self.settings.window

    def rows(self, data: TaskData) -> np.ndarray:
        """Per-row inputs (n, c) that a window of the origin's rows is cut from."""
        raise NotImplementedError

    def network(self, data: TaskData, features: int, outputs: int) -> nn.Module:
        """Return the untrained network."""
        raise NotImplementedError

    def fit_scale(self, data: TaskData, train: np.ndarray) -> None:
        """Fit the input normaliser on the rows the training origins read (refused beyond ``data.limit``)."""
        read = np.unique(train[:, None] + np.arange(-self.settings.window + 1, 1)[None, :])
        self.scale_ = Normaliser(self.rows(data), read, data.limit)

    def _inputs(self, data: TaskData, index: np.ndarray) -> np.ndarray:
        x = windows(self.scale_(self.rows(data)), index, self.settings.window)
        if not np.isfinite(x).all():
            raise DataError(f"model {self.name!r}: series {data.name!r} has an empty book cell in an input window")
        return x

    def fit(self, series: TaskData, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        s, task = self.settings, series.task
        series.book.need_levels(self.levels, f"model {self.name!r}")
        train = np.asarray(train)[-s.max_train :]
        self.fit_scale(series, train)
        x, y = self._inputs(series, train), series.y[train]
        if task.classes is None:
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
            target = torch.as_tensor((y - self.y_mean_) / self.y_std_, dtype=torch.float32)[:, None]
        else:
            target = torch.as_tensor(np.searchsorted(task.classes, y), dtype=torch.long)
        n_val = max(1, train.size // 5)
        fit_rows = np.flatnonzero(series.end[train] < train[-n_val])  # purge origins whose label reaches validation
        fit_rows = fit_rows[fit_rows < train.size - n_val]
        if fit_rows.size < 10:
            raise DataError(f"model {self.name!r} needs >= 10 purged training origins; got {fit_rows.size}")
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        outputs = 1 if task.classes is None else len(task.classes)
        net = self.network(series, x.shape[2], outputs)
        initialise(net, generator)
        threads = torch.get_num_threads()
        torch.set_num_threads(s.threads)
        try:
            val_rows = np.arange(train.size - n_val, train.size)
            tx = torch.as_tensor(x, dtype=torch.float32)
            self.net_, self.epochs_ = _train(net.to(DEVICE), tx, target, fit_rows, val_rows, s, generator)
        finally:
            torch.set_num_threads(threads)
        return self

    def predict(self, series: TaskData, index: np.ndarray) -> Prediction:
        x = torch.as_tensor(self._inputs(series, np.asarray(index)), dtype=torch.float32)
        with torch.no_grad():
            out = torch.cat([self.net_(x[i : i + 1024].to(DEVICE)).cpu() for i in range(0, x.shape[0], 1024)])
        if series.task.classes is None:
            return prediction(series.task, out[:, 0].double().numpy() * self.y_std_ + self.y_mean_)
        return prediction(series.task, torch.softmax(out.double(), dim=1).numpy())


def _loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if target.dtype == torch.long:
        return nn.functional.cross_entropy(out, target)
    return torch.mean((out - target) ** 2)


def _train(net, x, target, fit_rows, val_rows, s: DeepSettings, generator) -> tuple[nn.Module, int]:
    optimizer = torch.optim.Adam(net.parameters(), lr=s.learning_rate)
    fit_rows, val_rows = torch.as_tensor(fit_rows), torch.as_tensor(val_rows)
    vx, vy = x[val_rows].to(DEVICE), target[val_rows].to(DEVICE)
    best, best_state, waited, ran = np.inf, None, 0, 0
    for epoch in range(1, s.epochs + 1):
        ran = epoch
        order = fit_rows[torch.randperm(fit_rows.numel(), generator=generator)]
        net.train()
        for start in range(0, order.numel(), s.batch_size):
            batch = order[start : start + s.batch_size]
            optimizer.zero_grad()
            _loss(net(x[batch].to(DEVICE)), target[batch].to(DEVICE)).backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            val = float(_loss(net(vx), vy))
        if val < best - 1e-6:
            best, waited = val, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        elif epoch > s.min_epochs:
            waited += 1
            if waited >= s.patience:
                break
    net.load_state_dict(best_state)
    return net, ran


class DeepLOB(DeepForecaster):
    """The DeepLOB-style CNN-LSTM over ``levels`` book levels."""

    name = "deeplob"

    def __init__(self, settings: DeepSettings | None = None, levels: int = 10) -> None:
        super().__init__(settings)
        if levels < 1:
            raise ParameterError(f"`levels` of deeplob must be >= 1; got {levels}")
        self.levels = levels

    def rows(self, data: TaskData) -> np.ndarray:
        return data.tensor(self.levels)

    def network(self, data: TaskData, features: int, outputs: int) -> nn.Module:
        return DeepLOBNet(self.levels, self.settings.channels, self.settings.hidden, outputs)


class EventTransformer(DeepForecaster):
    """The transformer over the last ``window`` event tokens."""

    name = "event_transformer"

    def rows(self, data: TaskData) -> np.ndarray:
        return data.tokens

    def network(self, data: TaskData, features: int, outputs: int) -> nn.Module:
        return EventTransformerNet(features, self.settings.window, 2 * self.settings.hidden, outputs)
