"""Uniswap v2/v3 swap exports: the real files, the v2 reserve walk and constant product, bad input."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.errors import DataError, ParameterError, SimlabError
from simlab.io.uniswap import read_uniswap_v2_swaps, read_uniswap_v3_swaps
from simlab.schema import EventKind
from tests.conftest import shared_path
from tests.corruption import corrupt, corruptions

V3 = "uniswap_v3_usdc_weth_swaps_2021-08_credmark/univ3_usdc_weth_swaps_2021-08-10_to_09-05.csv.gz"
V2 = "uniswap_v2_uni_weth_swaps_2021-06/univ2_uni_weth_swaps_2021-06-14_to_06-22.csv.gz"


def utc_ns(*args):
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 10**9


@pytest.fixture(scope="module")
def v3():
    return read_uniswap_v3_swaps(shared_path(V3))["events"]


@pytest.fixture(scope="module")
def v2():
    return read_uniswap_v2_swaps(shared_path(V2))["events"]


def test_v3_file_reads_every_swap(v3):
    assert v3.sizes["event"] == 13_413 and (v3["kind"] == EventKind.SWAP).all()
    assert int(v3["ts_ns"][0]) == utc_ns(2021, 8, 10) and int(v3["ts_ns"][-1]) == utc_ns(2021, 9, 5, 17, 7, 15)
    assert (np.diff(v3["ts_ns"].values) >= 0).all()
    first = v3.isel(event=0)  # -118065.2145 USDC, +37.33808756 WETH: the trader sold WETH
    assert int(first["price_ticks"]) == 195_701 and float(first["pool_price"]) == pytest.approx(3171.3, abs=0.1)
    assert int(first["side"]) == -1 and int(first["qty_lots"]) == 37_338_087_560
    assert int(first["tx_counter"]) == 162_339 and int(v3["tx_counter"].max()) == 183_400
    assert (
        v3.attrs["tick_size"] == 1.0 and v3.attrs["lot_size"] == 1e-9 and "1.0001**tick" in v3.attrs["price_convention"]
    )
    side, amount1 = v3["side"].values, v3["amount1"].values
    assert (side[amount1 < 0] == 1).all() and (side[amount1 > 0] == -1).all()
    # USDC flows the other way, and the pool price moves up after buys of WETH on average
    assert (np.sign(v3["amount0"].values[side != 0]) != np.sign(amount1[side != 0])).all()
    ticks = v3["price_ticks"].values
    assert ticks.min() >= 193_000 and ticks.max() <= 197_000
    price = v3["pool_price"].values
    moves = np.sign(np.diff(price))  # a buy of WETH raises USDC per WETH (swaps within one block may interleave)
    assert np.mean(moves[side[1:] == 1] >= 0) > 0.9 and np.mean(moves[side[1:] == -1] <= 0) > 0.9


def test_v2_file_rebuilds_the_reserves(v2):
    assert v2.sizes["event"] == 2_000 and v2.attrs["segments"] == 2
    ts = v2["ts_ns"].values
    assert (np.diff(ts) >= 0).all()
    assert ts[0] == utc_ns(2021, 6, 14, 7, 3, 7) and ts[999] == utc_ns(2021, 6, 17, 6, 22, 5)
    assert ts[1000] == utc_ns(2021, 6, 20, 9, 40, 47) and ts[-1] == utc_ns(2021, 6, 22, 13, 25, 15)
    assert (ts[1000] - ts[999]) / 3.6e12 == pytest.approx(75, abs=1)
    # the newest swap of each segment leaves the query-time reserves
    assert float(v2["reserve0"][-1]) == pytest.approx(2415515.466994928217375367, rel=1e-15)
    assert float(v2["reserve1"][999]) == pytest.approx(21513.772193270058554304, rel=1e-15)
    price = v2["pool_price"].values
    assert np.allclose(price, v2["reserve1"].values / v2["reserve0"].values)
    assert np.allclose(v2["price_ticks"].values * 1e-12, price, rtol=1e-9) and 0.006 < price.min() < price.max() < 0.01
    side, amount0 = v2["side"].values, v2["amount0"].values
    assert (side[amount0 < 0] == 1).all() and (side[amount0 > 0] == -1).all()


def test_v2_constant_product_with_fee(v2):
    k_ratio, error = v2["k_ratio"].values, v2["fee_relation_error"].values
    # x*y grows by the fee except where liquidity events (absent from the file) shift the walked reserves
    assert (k_ratio >= 1.0).mean() > 0.99 and v2.attrs["k_decreases"] == (k_ratio < 1.0).sum() <= 10
    # the ids' log index is per transaction: 139 blocks hold two swaps with the same one, in an order we cannot check
    assert v2.attrs["blocks_with_shared_log_index"] == 139
    assert v2.attrs["fee_relation_max_abs_error"] < 1e-4
    assert np.median(np.abs(error)) < 1e-8
    # a sell of a UNI into the pool: (x + 0.997 a)(y - out) = x y, so x'y'/xy - 1 = 0.003 a / (x' - 0.003 a)
    sells = v2["side"].values == -1
    growth = k_ratio[sells] - 1
    paid = v2["amount0"].values[sells]
    fee_part = 0.003 * paid / (v2["reserve0"].values[sells] - 0.003 * paid)
    mismatch = np.abs(growth / fee_part - 1)
    # exact near the query time; further back, unseen mints/burns leave the walked reserve level ~1% off
    assert mismatch[-4:].max() < 1e-6 and np.median(mismatch) < 0.05


# ---------------------------------------------------------------- bad input

V3_HEADER = "amount0,amount1,amountUSD,id,sqrtPriceX96,tick,timestamp,timestamp_1,liquidity,token0Price,token1Price,"
V3_HEADER += "sqrtPrice,open,close,datetime\n"
V3_ROW = "-100.5,0.03,100.4,0xabc#{n},1.4E+33,{tick},{ts},x,2E+19,3117.5,0.00032,1.4E+33,3171.2,3117.5,x\n"


def write_gz(path, text):
    path.write_bytes(gzip.compress(text.encode()))
    return path


def v3_text(rows):
    return V3_HEADER + "".join(V3_ROW.format(n=i, tick=t, ts=s) for i, (t, s) in enumerate(rows))


def test_v3_bad_input(tmp_path):
    good = v3_text([(195701, 1628553600), (195702, 1628553601)])
    assert read_uniswap_v3_swaps(write_gz(tmp_path / "a.csv.gz", good))["events"].sizes["event"] == 2
    with pytest.raises(DataError, match="line 3.*timestamp.*sort=True"):
        read_uniswap_v3_swaps(write_gz(tmp_path / "b.csv.gz", v3_text([(195701, 1628553600), (1, 1628553500)])))
    events = read_uniswap_v3_swaps(
        write_gz(tmp_path / "b.csv.gz", v3_text([(195701, 1628553600), (1, 1628553500)])), sort=True
    )["events"]
    assert events.attrs["sorted"] and events["price_ticks"].values.tolist() == [1, 195701]
    with pytest.raises(DataError, match="line 2.*tick"):
        read_uniswap_v3_swaps(write_gz(tmp_path / "c.csv.gz", v3_text([(900000, 1628553600)])))
    with pytest.raises(DataError, match="opposite signs"):
        read_uniswap_v3_swaps(write_gz(tmp_path / "d.csv.gz", good.replace("-100.5", "100.5", 1)))
    with pytest.raises(DataError, match="line 1.*header"):
        read_uniswap_v3_swaps(write_gz(tmp_path / "e.csv.gz", good.replace("amount0,", "amountX,", 1)))
    with pytest.raises(DataError, match="txhash#n"):
        read_uniswap_v3_swaps(write_gz(tmp_path / "f.csv.gz", good.replace("0xabc#0", "0xabc", 1)))
    with pytest.raises(DataError, match="expected a number"):
        read_uniswap_v3_swaps(write_gz(tmp_path / "g.csv.gz", good.replace("-100.5", "nan", 1)))
    (tmp_path / "h.csv.gz").write_bytes(gzip.compress(good.encode())[:-20])
    with pytest.raises(DataError, match="gzip"):
        read_uniswap_v3_swaps(tmp_path / "h.csv.gz")


V2_HEADER = ",amount0In,amount0Out,amount1In,amount1Out,amountUSD,id,timestamp,pair.id,pair.reserve0,pair.reserve1,"
V2_HEADER += "pair.token0.symbol,pair.token1.symbol,transaction.blockNumber,transaction.id\n"


def v2_row(i, a0in, a0out, a1in, a1out, ts, r0="1000", r1="10"):
    return f"{i},{a0in},{a0out},{a1in},{a1out},1.5,0xab-{i},{ts},0xpair,{r0},{r1},UNI,WETH,{100 + i},0xab\n"


def test_v2_walk_on_a_small_pool(tmp_path):
    # one swap sells 10 UNI into a 990 UNI / 10.1 WETH pool; the export gives the reserves after it
    out1 = 10.1 * 9.97 / (990 + 9.97)  # getAmountOut with the 0.3% fee
    text = V2_HEADER + v2_row(0, "10", "0", "0", f"{out1:.18f}", 20, r1=f"{10.1 - out1:.18f}")
    events = read_uniswap_v2_swaps(write_gz(tmp_path / "p.csv.gz", text))["events"]
    assert events.attrs["fee_relation_max_abs_error"] < 1e-12 and int(events["side"][0]) == -1
    assert float(events["reserve0"][0]) == 1000 and float(events["pool_price"][0]) == pytest.approx(0.01, rel=1e-3)
    assert int(events["qty_lots"][0]) == 10 * 10**9
    with pytest.raises(ParameterError, match="fee"):
        read_uniswap_v2_swaps(tmp_path / "p.csv.gz", fee=1.5)


def test_v2_bad_input(tmp_path):
    rows = [v2_row(0, "10", "0", "0", "0.09", 20), v2_row(1, "0", "5", "0.06", "0", 10)]
    assert read_uniswap_v2_swaps(write_gz(tmp_path / "a.csv.gz", V2_HEADER + "".join(rows)))["events"].sizes == {
        "event": 2
    }
    with pytest.raises(DataError, match="line 3.*later.*sort=True"):
        read_uniswap_v2_swaps(write_gz(tmp_path / "b.csv.gz", V2_HEADER + rows[1] + rows[0]))
    with pytest.raises(DataError, match="line 2.*amount0In.*decimal"):
        read_uniswap_v2_swaps(
            write_gz(tmp_path / "c.csv.gz", V2_HEADER + rows[0].replace(",10,", ",-10,", 1) + rows[1])
        )
    with pytest.raises(DataError, match="opposite signs"):
        read_uniswap_v2_swaps(write_gz(tmp_path / "d.csv.gz", V2_HEADER + v2_row(0, "10", "0", "1", "0", 20)))
    with pytest.raises(DataError, match="reserve <= 0"):
        read_uniswap_v2_swaps(write_gz(tmp_path / "e.csv.gz", V2_HEADER + v2_row(0, "2000", "0", "0", "5", 20)))
    split = [v2_row(0, "1", "0", "0", "0.009", 30), v2_row(1, "1", "0", "0", "0.009", 20, r0="900")]
    split.append(v2_row(2, "1", "0", "0", "0.009", 10))
    with pytest.raises(DataError, match="line 4.*contiguous"):
        read_uniswap_v2_swaps(write_gz(tmp_path / "f.csv.gz", V2_HEADER + "".join(split)))
    with pytest.raises(DataError, match="expected 15 fields"):
        read_uniswap_v2_swaps(write_gz(tmp_path / "g.csv.gz", V2_HEADER + rows[0].rsplit(",", 1)[0] + "\n"))


# ---------------------------------------------------------------- corrupted real files


@pytest.fixture(scope="module")
def heads():
    return {
        "v3": b"".join(gzip.decompress(shared_path(V3).read_bytes()).splitlines(keepends=True)[:200]),
        "v2": gzip.decompress(shared_path(V2).read_bytes()),
    }


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["v2", "v3"]), corruption=corruptions)
def test_corrupted_real_files_parse_or_raise_data_error(tmp_path, heads, which, corruption):
    path = tmp_path / f"{which}.csv"
    path.write_bytes(corrupt(heads[which], *corruption))
    reader = read_uniswap_v2_swaps if which == "v2" else read_uniswap_v3_swaps
    try:
        result = reader(path)
    except SimlabError:
        return
    assert result["events"].sizes["event"] > 0
