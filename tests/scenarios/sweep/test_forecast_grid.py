"""The forecasting paper's sensitivity grid through the sweep runner's map: the same rows as in process."""

from __future__ import annotations

import numpy as np

from calibration.presets import load_preset
from scenarios.forecast.data import simulate_series
from scenarios.forecast.neural import NetworkSettings
from scenarios.forecast.paper import score_config, sensitivity, sensitivity_configs
from scenarios.sweep.cluster import ClusterMap, connect


def test_the_sensitivity_grid_on_the_cluster_gives_the_rows_in_process(scheduler):
    series = simulate_series(load_preset("binance-usdm-btcusdt").params, 900.0, rng=4)
    configs = sensitivity_configs("lhs", 2, rng=1)
    base = NetworkSettings(max_epochs=3, max_train=200)
    in_process = sensitivity(series, configs, base=base, rng=np.random.default_rng(9), n_folds=5)
    with connect(None, scheduler) as (client, n):
        mapper = ClusterMap(client, n)
        on_cluster = sensitivity(series, configs, base=base, rng=np.random.default_rng(9), n_folds=5, mapper=mapper)
    assert mapper.tasks == 2 and on_cluster == in_process
    assert [row["var_lags"] for row in in_process] == [c["var_lags"] for c in configs]
    assert all(np.isfinite(row["r2_honest"]) and np.isfinite(row["r2_nowcast"]) for row in in_process)
    # each configuration has its own seed, spawned in order: the rows do not depend on where or when it runs
    seeds = np.random.default_rng(9).bit_generator.seed_seq.spawn(2)
    assert score_config(series, (configs[1], seeds[1]), base=base, n_folds=5) == (
        in_process[1]["r2_honest"],
        in_process[1]["r2_nowcast"],
    )
