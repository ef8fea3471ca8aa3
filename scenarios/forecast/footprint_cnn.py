"""The footprint CNN: 3-D convolutions over time bins x price levels x side of the traded-volume footprint.

The input of origin t is the footprint (:func:`simlab.features.profile.footprint`: buy and sell volume per time bin
and price) over the ``window`` last bins that *end* at or before the origin's time (a bin still open at the origin
would hold later trades), on ``2 ticks + 1`` price levels centred on the origin's mid (rounded down), as
log(1 + lots) standardised with the training origins' mean and deviation. Two Conv3d layers (3 x 3 x 2, then
3 x 3 x 1) with leaky ReLUs, a global average pool and a two-layer head give the class logits or the value.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from torch import nn

from scenarios.forecast.books import BookSeries
from scenarios.forecast.deep import DeepForecaster, DeepSettings
from scenarios.forecast.task_data import TaskData
from simlab.errors import ParameterError
from simlab.features.profile import footprint


def footprint_windows(book: BookSeries, index: np.ndarray, *, bin_ns: int, bins: int, ticks: int) -> np.ndarray:
    """Return the footprint inputs (m, bins, 2 ticks + 1, 2) in lots of the origins ``index`` (see the module
    docstring); bins before the first one and prices never traded hold 0."""
    events = xr.Dataset(
        {"kind": ("event", book.kind), "side": ("event", book.side), "price_ticks": ("event", book.price),
         "qty_lots": ("event", book.qty)},
        coords={"ts_ns": ("event", book.ts_ns)},
    )  # fmt: skip
    grid = footprint(events, bin_ns=bin_ns)
    cells, ends, levels = grid.values, grid["ts_ns"].values, grid["price_ticks"].values
    last = np.searchsorted(ends, book.ts_ns[index], side="right") - 1  # the last bin closed at the origin
    rows = last[:, None] + np.arange(-bins + 1, 1)[None, :]
    prices = book.mid2()[index][:, None] // 2 + np.arange(-ticks, ticks + 1)[None, :]
    column = np.clip(np.searchsorted(levels, prices), 0, max(levels.size - 1, 0))
    traded = (levels[column] == prices) if levels.size else np.zeros(prices.shape, bool)
    if cells.size == 0:
        return np.zeros((len(index), bins, 2 * ticks + 1, 2))
    out = cells[np.maximum(rows, 0)[:, :, None], column[:, None, :], :].astype(float)
    return out * ((rows >= 0)[:, :, None, None] & traded[:, None, :, None])


class FootprintNet(nn.Module):
    """(batch, bins, prices, 2) -> (batch, outputs)."""

    def __init__(self, channels: int, hidden: int, outputs: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv3d(1, channels, (3, 3, 2)), nn.LeakyReLU(0.01), nn.Conv3d(channels, channels, (3, 3, 1)),
            nn.LeakyReLU(0.01), nn.AdaptiveAvgPool3d(1),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Linear(channels, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, outputs))

    def forward(self, x):
        return self.head(self.convs(x[:, None]).flatten(1))


class FootprintCNN(DeepForecaster):
    """The footprint CNN over ``window`` bins of ``bin_s`` seconds and ``2 ticks + 1`` price levels."""

    name = "footprint_cnn"

    def __init__(self, settings: DeepSettings | None = None, bin_s: float = 1.0, ticks: int = 10) -> None:
        super().__init__(settings)
        if self.settings.window < 5 or ticks < 2 or not bin_s > 0:
            raise ParameterError(f"footprint_cnn needs window >= 5 bins, ticks >= 2, bin_s > 0; got "
                                 f"{self.settings.window}, {ticks}, {bin_s}")  # fmt: skip
        self.bin_ns, self.ticks = int(round(bin_s * 1e9)), ticks

    def fit_scale(self, data: TaskData, train: np.ndarray) -> None:
        if int(train.max()) >= data.limit:
            raise ParameterError(
                f"normalisation must be fitted on the training block only (rows < {data.limit}, the first test "
                f"input); got rows up to {int(train.max())}"
            )
        values = np.log1p(self._raw(data, train))
        self.scale_ = (float(values.mean()), float(values.std() or 1.0))

    def _raw(self, data: TaskData, index: np.ndarray) -> np.ndarray:
        return footprint_windows(data.book, index, bin_ns=self.bin_ns, bins=self.settings.window, ticks=self.ticks)

    def _inputs(self, data: TaskData, index: np.ndarray) -> np.ndarray:
        return (np.log1p(self._raw(data, index)) - self.scale_[0]) / self.scale_[1]

    def network(self, data: TaskData, features: int, outputs: int) -> nn.Module:
        return FootprintNet(self.settings.channels, self.settings.hidden, outputs)
