"""Real-data baselines: the v2 constant-product check with our pool maths and the v3 swap replay."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.amm.fees import fee_names
from simlab.amm.uniswap import fit_noise, implied_depth, replay_v3, v2_fee_check, v3_replay_market
from simlab.io.uniswap import read_uniswap_v2_swaps, read_uniswap_v3_swaps
from tests.conftest import shared_path

V3 = "uniswap_v3_usdc_weth_swaps_2021-08_credmark/univ3_usdc_weth_swaps_2021-08-10_to_09-05.csv.gz"
V2 = "uniswap_v2_uni_weth_swaps_2021-06/univ2_uni_weth_swaps_2021-06-14_to_06-22.csv.gz"


@pytest.fixture(scope="module")
def v3_events():
    return read_uniswap_v3_swaps(shared_path(V3))["events"]


@pytest.fixture(scope="module")
def v2_events():
    return read_uniswap_v2_swaps(shared_path(V2))["events"]


def test_v2_swaps_follow_our_constant_product_with_the_030_fee(v2_events):
    check = v2_fee_check(v2_events, fee=0.003)
    # back from each query-time anchor, until the first mint/burn the export omits, our maths gives every output
    assert check["anchor_run"] == {0: 6, 1: 3}
    newest = np.concatenate(
        [check["relative_error"][v2_events["segment"].values == s][-n:] for s, n in ((0, 6), (1, 3))]
    )
    assert np.abs(newest).max() < 1e-10  # float64 amounts; Uniswap rounds outputs down to 1 wei
    # the fee that makes each of the 2,000 swaps exact on its walked-back reserves centres on 0.30%
    assert check["implied_fee_median"] == pytest.approx(0.003, abs=5e-6)
    low, high = check["implied_fee_iqr"]
    assert low < 0.003 < high and high - low < 1e-4
    assert v2_fee_check(v2_events, fee=0.0025)["anchor_run"] == {0: 0, 1: 0}


def test_v3_swaps_replay_through_every_fee_design(v3_events):
    market = v3_replay_market(v3_events)
    assert market.reference.n_blocks - 1 == np.unique(v3_events["ts_ns"].values).shape[0] == 11023
    assert market.reference.times[-1] / 86400 == pytest.approx(26.71, abs=0.01)
    assert market.flow.offsets[-2] == market.flow.offsets[-1] == 13413  # the last block only re-aligns the pool
    depth = implied_depth(v3_events)
    assert 5e8 < depth < 3e9  # the virtual depth the real price impact implies (USD)
    designs = [("static", {"fee": 0.0005}), ("static", {"fee": 0.003}), *fee_names()[1:]]
    ds = replay_v3(v3_events, designs, pool_value=depth)
    v = ds["value"].isel(parameter=0, path=0)
    total_usd = float(v3_events["amount_usd"].sum())
    assert np.allclose(v.sel(metric="noise_volume"), total_usd, rtol=1e-9)  # every real swap traded in full
    for i, fee in ((0, 0.0005), (1, 0.003)):
        assert float(v.isel(design=i).sel(metric="fees_noise")) == pytest.approx(fee * total_usd, rel=1e-12)
    fees = v.sel(metric="fees_arb") + v.sel(metric="fees_noise")
    assert np.allclose(v.sel(metric="hedged_lp_pnl"), fees - v.sel(metric="lvr"), rtol=1e-9, atol=1e-3)
    assert np.isfinite(v.values).all() and ds.sizes["design"] == 11


def test_noise_fitted_to_the_real_swaps(v3_events):
    noise = fit_noise(v3_events)
    seconds = v3_events["ts_ns"].values / 1e9
    assert noise.rate_per_s == pytest.approx(13412 / (seconds[-1] - seconds[0]), rel=1e-12)
    assert len(noise.sizes) == 13413 and noise.mean_value == pytest.approx(float(v3_events["amount_usd"].mean()))
