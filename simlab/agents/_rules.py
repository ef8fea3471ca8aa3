"""The agents' decision rules and the fundamental, each a small numba function with its source (kernels trust input).

Random draws come from the ``numpy.random.Generator`` of the component, in a fixed order per call (documented per
rule), so that a slow twin calling the same numpy methods in the same order draws the same numbers.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from simlab.book import _engine as eng

# ABIDES order-size mixture (abides_markets/models/order_size_model.py): a log-normal (mu 2.9, sigma 1.2) and
# normals at 100, 200, ..., 1000 lots with sd 0.15; rounded to the nearest lot (ties to even, Python's round).
SIZE_WEIGHTS = np.array([0.2, 0.7, 0.06, 0.004, 0.0329, 0.001, 0.0006, 0.0004, 0.0005, 0.0003, 0.0003])
SIZE_CUMULATIVE = np.cumsum(SIZE_WEIGHTS) / SIZE_WEIGHTS.sum()
SIZE_LOG_MEAN, SIZE_LOG_SD, SIZE_NORMAL_SD = 2.9, 1.2, 0.15

# fundamental state: F_VALUE (ticks), F_SHOCK (pending megashock, ticks), F_NEWS_BEFORE and F_NEWS_AFTER (the value
# around a news jump; NaN without one); times: T_LAST, T_NEXT_SHOCK (ns)
F_VALUE, F_SHOCK, F_NEWS_BEFORE, F_NEWS_AFTER = 0, 1, 2, 3
T_LAST, T_NEXT_SHOCK = 0, 1
# fundamental parameters (per ns): mean, kappa, sigma^2, megashock rate, megashock mean, megashock sd
P_MEAN, P_KAPPA, P_VAR, P_SHOCK_RATE, P_SHOCK_MEAN, P_SHOCK_SD = range(6)


@numba.njit(cache=True)
def order_size(gen, cumulative):
    """One ABIDES order size (lots; may be 0, then no order). Draws: ``random()``, then ``standard_normal()``."""
    return mixture_size(gen, cumulative, SIZE_LOG_MEAN, SIZE_LOG_SD)


@numba.njit(cache=True)
def mixture_size(gen, cumulative, log_mean, log_sd):
    """One size of the ABIDES mixture with the component law ``cumulative`` and a log-normal of ``log_mean`` and
    ``log_sd`` (lots; may be 0). Draws: ``random()``, then ``standard_normal()``."""
    u = gen.random()
    k = 0
    while k < cumulative.shape[0] - 1 and u >= cumulative[k]:
        k += 1
    z = gen.standard_normal()
    size = math.exp(log_mean + log_sd * z) if k == 0 else 100.0 * k + SIZE_NORMAL_SD * z
    return np.int64(np.rint(size))


def order_sizes(n: int, gen: np.random.Generator) -> np.ndarray:
    """Draw ``n`` ABIDES order sizes with numpy (vectorised; the same law as :func:`order_size`, other draws)."""
    component = np.searchsorted(SIZE_CUMULATIVE, gen.random(n), side="right").clip(0, len(SIZE_WEIGHTS) - 1)
    z = gen.standard_normal(n)
    size = np.where(component == 0, np.exp(SIZE_LOG_MEAN + SIZE_LOG_SD * z), 100.0 * component + SIZE_NORMAL_SD * z)
    return np.rint(size).astype(np.int64)


# ---------------------------------------------------------------- the fundamental (ABIDES SparseMeanRevertingOracle)


@numba.njit(cache=True)
def ou_step(gen, value, dt_ns, p):
    """Exact OU transition over ``dt_ns``: N(m + (v - m) e^{-k dt}, s^2 (1 - e^{-2 k dt}) / (2 k)). One normal draw.

    Source: ABIDES ``SparseMeanRevertingOracle.compute_fundamental_at_timestamp`` (its mean and variance; ABIDES
    also rounds the value to a whole tick and floors it at 0, which we do not).
    """
    decay = math.exp(-p[P_KAPPA] * dt_ns)
    var = p[P_VAR] * -math.expm1(-2.0 * p[P_KAPPA] * dt_ns) / (2.0 * p[P_KAPPA])
    return p[P_MEAN] + (value - p[P_MEAN]) * decay + math.sqrt(var) * gen.standard_normal()


@numba.njit(cache=True)
def next_megashock(gen, fvals, ftimes, p):
    """Draw the next megashock after ``ftimes[T_NEXT_SHOCK]``: exponential wait, then N(mean, sd) with an even sign."""
    wait = gen.standard_exponential() / p[P_SHOCK_RATE] if p[P_SHOCK_RATE] > 0 else 9.0e18
    ftimes[T_NEXT_SHOCK] = ftimes[T_NEXT_SHOCK] + np.int64(min(wait, 9.0e18 - ftimes[T_NEXT_SHOCK]))
    size = p[P_SHOCK_MEAN] + p[P_SHOCK_SD] * gen.standard_normal()
    fvals[F_SHOCK] = size if gen.random() < 0.5 else -size


@numba.njit(cache=True)
def _ou_over(gen, value, t0, t1, p, clock, open_ns, step_ns):
    """:func:`ou_step` from calendar ``t0`` to ``t1``: over ``t1 - t0`` ns, or with an activity ``clock`` (one with
    cells) over the business ns between them (:func:`business_ns`)."""
    if clock.shape[1] == 0:
        return ou_step(gen, value, t1 - t0, p)
    dt = business_ns(clock, open_ns, step_ns, t1) - business_ns(clock, open_ns, step_ns, t0)
    return ou_step(gen, value, dt, p)


@numba.njit(cache=True)
def advance_fundamental(gen, fvals, ftimes, p, t_ns, clock, open_ns, step_ns):
    """The fundamental at ``t_ns`` (no draw when ``t_ns`` is not after the last time); applies megashocks on the way.

    Returns the number of megashocks applied. Source: ABIDES ``advance_fundamental_value_series``. Ours: with the
    market's activity on (``clock`` with cells, :func:`activity_clock`), the OU runs in business time (its variance
    over a span is that of the business ns in it); megashocks keep their calendar times.
    """
    shocks = 0
    if t_ns <= ftimes[T_LAST]:
        return shocks
    while ftimes[T_NEXT_SHOCK] < t_ns:
        at = ftimes[T_NEXT_SHOCK]
        fvals[F_VALUE] = _ou_over(gen, fvals[F_VALUE], ftimes[T_LAST], at, p, clock, open_ns, step_ns) + fvals[F_SHOCK]
        ftimes[T_LAST] = at
        next_megashock(gen, fvals, ftimes, p)
        shocks += 1
    fvals[F_VALUE] = _ou_over(gen, fvals[F_VALUE], ftimes[T_LAST], t_ns, p, clock, open_ns, step_ns)
    ftimes[T_LAST] = t_ns
    return shocks


@numba.njit(cache=True)
def fundamental_path(gen, p, start_ns, times_ns, clock, step_ns):
    """The fundamental at increasing ``times_ns`` from its mean at ``start_ns``; returns (values, megashock counts).
    ``clock``: an activity clock of cells of ``step_ns`` from ``start_ns`` (:func:`activity_clock`; business time),
    or one of no cells (calendar time)."""
    fvals, ftimes = np.array([p[P_MEAN], 0.0]), np.array([start_ns, start_ns], dtype=np.int64)
    next_megashock(gen, fvals, ftimes, p)
    values, shocks = np.empty(times_ns.shape[0]), np.zeros(times_ns.shape[0], dtype=np.int64)
    for i in range(times_ns.shape[0]):
        shocks[i] = advance_fundamental(gen, fvals, ftimes, p, times_ns[i], clock, start_ns, step_ns)
        values[i] = fvals[F_VALUE]
    return values, shocks


# ---------------------------------------------------------------- value agents (ABIDES ValueAgent)

# value agent state columns: V_ESTIMATE (r_t, ticks), V_VARIANCE (sigma_t, ticks^2); latent rule (below): V_SIDE
# (+1 buyer, -1 seller, 0 not drawn yet), V_OFFSET (ticks >= 0), V_QTY (lots of the latent order), V_INV0 (the
# agent's inventory when it was drawn), V_REF (the order's premium over the forecast, ticks: 0 unless it is anchored
# on the price, below)
V_ESTIMATE, V_VARIANCE, V_SIDE, V_OFFSET, V_QTY, V_INV0, V_REF = range(7)
V_FIELDS = 7
# value parameters: kappa (per ns), shock variance (per ns), observation variance, aggressive share, depth spread,
# abides variance flag; latent rule: depth D (ticks; 0 = off, the ABIDES rule), refresh rate nu (per ns), size (lots;
# 0 = the ABIDES mixture)
VP_KAPPA, VP_SHOCK_VAR, VP_OBS_VAR, VP_AGGRESSIVE, VP_DEPTH, VP_ABIDES_VAR = range(6)
VP_LATENT_DEPTH, VP_LATENT_RATE, VP_LATENT_SIZE = range(6, 9)
VP_LATENT_ANCHOR = 9  # 0: the latent V is centred on the forecast (docs/agents_llob.md); 1: on the price at the draw
# ours, the ABIDES rule's size grown with the mispricing (mispricing_size): the ticks of |forecast - mid| that add one
# drawn size (0: off, ABIDES' size), the largest factor on the drawn size (0: none), the power of the mispricing (1:
# linear)
VP_SIZE_SCALE, VP_SIZE_CAP, VP_SIZE_POWER = 10, 11, 12
VP_FLOW = 13  # ticks of the looked-at value per lot of the day's net aggressor flow (ours; 0: off)
VP_FLOW_OTHERS = 14  # 1: that flow leaves out the value agents' aggressive fills (ours)


@numba.njit(cache=True)
def value_update(state, prev_ns, now_ns, obs, r_bar, vp):
    """Bayesian update of the agent's estimate with one observation; returns nothing (updates ``state``).

    Source: ABIDES ``ValueAgent.updateEstimates`` in continuous time: the prior predicted over ``d`` ns is
    ``r' = r_bar + (r_t - r_bar) a``, ``s' = a^2 s_t + shock_var (1 - a^2) / (2 kappa)`` with ``a = e^{-kappa d}``
    (ABIDES' ``(1 - kappa)^d`` forms, exact as ``kappa -> 0``); the estimate is the precision-weighted mean of
    ``r'`` and the observation. The posterior variance is the Kalman one ``s_n s' / (s_n + s')``; ABIDES writes
    ``s_n s_t / (s_n + s_t)`` (the previous variance, not the predicted one), kept under ``VP_ABIDES_VAR``.
    """
    kappa, s_n = vp[VP_KAPPA], vp[VP_OBS_VAR]
    d = float(now_ns - prev_ns)
    a = math.exp(-kappa * d)
    r_prior = r_bar + (state[V_ESTIMATE] - r_bar) * a
    s_prior = a * a * state[V_VARIANCE] + vp[VP_SHOCK_VAR] * -math.expm1(-2.0 * kappa * d) / (2.0 * kappa)
    state[V_ESTIMATE] = (s_n * r_prior + s_prior * obs) / (s_n + s_prior)
    if vp[VP_ABIDES_VAR] > 0:
        state[V_VARIANCE] = s_n * state[V_VARIANCE] / (s_n + state[V_VARIANCE])
    else:
        state[V_VARIANCE] = s_n * s_prior / (s_n + s_prior)


@numba.njit(cache=True)
def value_forecast(estimate, now_ns, close_ns, r_bar, kappa):
    """The estimate carried to the close: ``round(r_bar + (r_t - r_bar) e^{-kappa (T - t)})`` (ticks)."""
    a = math.exp(-kappa * float(max(0, close_ns - now_ns)))
    return np.int64(np.rint(r_bar + (estimate - r_bar) * a))


@numba.njit(cache=True)
def value_order(gen, forecast, bid, ask, two_sided, vp):
    """Side and limit price of a value agent (ABIDES ``ValueAgent.placeOrder``); returns (side, price).

    Both sides quoted: with probability ``aggressive`` the price is the touch of the other side (marketable), else
    it is moved ``U{0, .., depth * spread - 1}`` ticks back toward the agent's own side (inside the spread or
    deeper); buy when the forecast >= mid. One side empty: a coin gives the side, the price is the forecast.
    Draws: always two ``random()``, ``u`` then ``w``: ``u`` is the aggressive test (two sides) or the coin (one side),
    ``w`` the move, drawn even when unused (aggressive, or one side), so that the number of draws does not depend on
    the book and a metaorder leaves the value agents' later draws, wake-ups and looks unchanged (common random
    numbers; ABIDES draws the move only when used).
    """
    u, w = gen.random(), gen.random()
    if not two_sided:
        return (1 if u < 0.5 else -1), forecast
    mid, spread = (ask + bid) // 2, ask - bid
    adjust = 0
    if u >= vp[VP_AGGRESSIVE]:
        adjust = np.int64(w * max(1, np.int64(vp[VP_DEPTH] * spread)))
    if forecast < mid:
        return -1, bid + adjust
    return 1, ask - adjust


@numba.njit(cache=True)
def mispricing_size(size, forecast, bid, ask, two_sided, vp):
    """A value agent's drawn size grown with its mispricing (ours; ``size_mispricing_scale_ticks`` > 0): ``rint(size
    min(cap, 1 + (|forecast - mid| / scale)^power))`` lots, ``mid = (ask + bid) // 2`` as :func:`value_order` reads
    it (no cap when ``cap`` is 0; ``power`` 1, the default: linear); ``size`` itself when the key is off, a side is
    empty (no mid) or ``size`` <= 0. No draws.

    A linear demand in the mispricing: the CARA investor's demand ``(E[v] - p) / (a Var v)`` (Grossman and Stiglitz
    1980, "On the impossibility of informationally efficient markets", Am. Econ. Rev. 70; Kyle 1985's linear
    orders), and the latent order book of Toth et al. (2011, "Anomalous price impact and the critical nature of
    liquidity in financial markets", Phys. Rev. X 1) and Donier, Bonart, Mastromatteo and Bouchaud (2015), whose
    latent volume grows with the distance from the price. ABIDES' value agent draws its size regardless of the
    mispricing, so its flow against a displaced price is bounded by its looks (docs/agents_impact_v14.md, section 1).
    A power of 2 makes the flow grow as the latent volume within the displacement, ``L d^2 / 2`` for the LLOB's
    density ``L |x|`` (docs/agents_value_size_v19.md, section 4).
    """
    scale = vp[VP_SIZE_SCALE]
    if scale <= 0 or not two_sided or size <= 0:
        return size
    x = abs(float(forecast - (ask + bid) // 2)) / scale
    factor = 1.0 + (x if vp[VP_SIZE_POWER] == 1.0 else x ** vp[VP_SIZE_POWER])
    if vp[VP_SIZE_CAP] > 0:
        factor = min(factor, vp[VP_SIZE_CAP])
    return np.int64(np.rint(size * factor))


@numba.njit(cache=True)
def latent_order(gen, state, forecast, inventory, dt_ns, cumulative, vp):
    """The latent-liquidity rule of a value agent (LLOB); returns (side, price, lots; 0 lots: nothing to send).

    Each agent holds one latent order: a side (a coin), a private offset ``D sqrt(w)`` (ticks; density ``2 x / D^2``
    on ``[0, D]``, linear in the distance) and a size (the ABIDES mixture). At each look it posts what is left of it
    (``latent_size_lots`` when > 0) at its reservation price, its estimate's forecast minus (buyer) or plus (seller)
    the offset: the order rests
    until the next look and drifts with the estimate. A fill spends the order (what is left is the drawn size less
    the agent's inventory change since the draw); the offset, side and size are redrawn at the first look and then
    with probability ``1 - exp(-nu dt)`` (a Poisson refresh at rate ``nu``, ``dt`` since the last look). Sellers rest
    above the fundamental, buyers below, with a density growing linearly with the distance: the stationary book of
    the LLOB near the price (Donier, Bonart, Mastromatteo and Bouchaud 2015, "A fully consistent, minimal model for
    non-linear market impact", Quantitative Finance 15(7): the latent density ``phi(x) ~ L |x|``). An order priced
    through the other side (the price moved past the reservation price) trades at once.
    Draws: always ``random()`` (the refresh test), ``random()`` (the offset), ``random()`` (the side), then
    :func:`order_size` (two), used or not, so that the draw count does not depend on the book (common random numbers).
    """
    return latent_order_at(gen, state, forecast, inventory, dt_ns, cumulative, vp, 0)


@numba.njit(cache=True)
def latent_order_at(gen, state, forecast, inventory, dt_ns, cumulative, vp, premium):
    """:func:`latent_order` with the V anchored at ``forecast + premium``; returns (side, price, lots).

    ``premium`` (ticks) is stored with the order when it is drawn (``V_REF``) and kept until the next draw, so the
    order rests at ``forecast + V_REF -/+ offset``: it moves with the agent's estimate (the common news of the LLOB,
    which shifts every latent order alike) but keeps the price it was drawn around. With ``premium = mid -
    forecast`` (``latent_anchor = "price"``, ours) a new latent order is deposited around the current price, as the
    LLOB's deposition (Donier, Bonart, Mastromatteo and Bouchaud 2015: new orders appear around the price, not
    around an outside value), and the book is not pulled back toward the fundamental; ``premium = 0`` is
    :func:`latent_order`. Draws: those of :func:`latent_order`.
    """
    u, w, coin = gen.random(), gen.random(), gen.random()
    size = order_size(gen, cumulative)
    if state[V_SIDE] == 0 or u < -math.expm1(-vp[VP_LATENT_RATE] * dt_ns):
        state[V_SIDE] = 1.0 if coin < 0.5 else -1.0
        state[V_OFFSET] = np.rint(vp[VP_LATENT_DEPTH] * math.sqrt(w))
        state[V_QTY] = vp[VP_LATENT_SIZE] if vp[VP_LATENT_SIZE] > 0 else size
        state[V_INV0] = inventory
        state[V_REF] = premium
    side = np.int64(state[V_SIDE])
    left = np.int64(state[V_QTY]) - side * (inventory - np.int64(state[V_INV0]))
    return side, forecast + np.int64(state[V_REF]) - side * np.int64(state[V_OFFSET]), max(np.int64(0), left)


# ---------------------------------------------------------------- momentum agents (ABIDES MomentumAgent)


@numba.njit(cache=True)
def momentum_signal(history, seen, short, long):
    """+1 (MA(short) >= MA(long)), -1, or 0 when fewer than ``long + 1`` looks (ABIDES needs > 50 mids).

    ``history`` is the agent's ring of its last ``long`` mids, ``seen`` the looks so far (this one included).
    Source: ABIDES ``MomentumAgent.place_orders`` (it appends MA20 after 21 looks and MA50 after 51 and trades
    once both exist).
    """
    if seen <= long or seen <= short:
        return 0
    n = history.shape[0]
    total_short, total_long = 0.0, 0.0
    for k in range(long):
        x = history[(seen - 1 - k) % n]
        total_long += x
        if k < short:
            total_short += x
    return 1 if total_short / short >= total_long / long else -1


# ---------------------------------------------------------------- adaptive market makers (ABIDES AdaptiveMarketMaker)

# market maker state: M_SPREAD (smoothed spread, ticks), M_MID (last mid, ticks; any value, even < 0, once M_HAS_MID
# is 1; 0: no mid seen yet); ours, keeping the touch: M_KEEP_BID, M_KEEP_ASK (the ids of its kept best orders; -1 none)
M_SPREAD, M_MID, M_KEEP_BID, M_KEEP_ASK, M_HAS_MID = 0, 1, 2, 3, 4
M_CENTRE, M_CENTRE_T = 5, 6  # ours: the slow ladder centre (an EMA of the mids) and its time (ns; < 0: none yet)
M_SNAPS = 7  # ours: the times the slow centre snapped to the mid (center_snap_ticks; a count, from 0)
# ours, the exponential volume kernel: the decayed buy, sell and size-counted lots as of M_VOL_T (ns after the open;
# the sums start at 0, so its starting value only ever decays zeros), and the event rows already folded into them
# (rows before M_VOL_ROW)
M_VOL_BUY, M_VOL_SELL, M_VOL_COUNTED, M_VOL_T, M_VOL_ROW = 8, 9, 10, 11, 12
M_FIELDS = 13
LN2 = 0.6931471805599453  # math.log(2)
# market maker parameters
MP_POV, MP_MIN_SIZE, MP_LEVELS, MP_SPACING, MP_ALPHA, MP_SKEW = range(6)
MP_WITHDRAW_INV, MP_WITHDRAW_MOVE, MP_WITHDRAW_SIZE, MP_WITHDRAW_SPREAD = range(6, 10)  # 0: that trigger is off
MP_MIN_HALF = 10  # the quotes' minimum half-spread (ticks; 0: off)
# the inventory skew (ours; 0: off): ticks the ladder's centre moves against each lot held, and its cap (0: none)
MP_INV_SKEW, MP_INV_SKEW_MAX = 11, 12
# the touch orders' size law (ours; MP_TOUCH_SIZED 0: off): the log-normal's mean and sd, then the 11 components'
# cumulative law from MP_TOUCH_CDF
MP_TOUCH_SIZED, MP_TOUCH_LOG_MEAN, MP_TOUCH_LOG_SD, MP_TOUCH_CDF = 13, 14, 15, 16
MP_TOUCH_COMPONENTS = 11  # the size law's components (MP_TOUCH_CDF .. MP_TOUCH_CDF + 10)
# the imbalance skew's prior volume (lots; 0: ABIDES' ratio; ours, docs/agents_skew_prior.md)
MP_SKEW_PRIOR = MP_TOUCH_CDF + MP_TOUCH_COMPONENTS
MP_SKEW_RANDOM = MP_SKEW_PRIOR + 1  # the skew's move rounded at random (1) or toward zero (0); ours, with the prior
# the ask's touch size law (ours): its log-normal's mean and sd, then its 11 components' cumulative law; the bid's
# law copied here when the ask has none of its own
MP_TOUCH_ASK_LOG_MEAN = MP_SKEW_RANDOM + 1
MP_TOUCH_ASK_LOG_SD, MP_TOUCH_ASK_CDF = MP_TOUCH_ASK_LOG_MEAN + 1, MP_TOUCH_ASK_LOG_MEAN + 2
MP_FIELDS = MP_TOUCH_ASK_CDF + MP_TOUCH_COMPONENTS
# the half-spread floor's intraday profile (ours; after the fixed fields): its number of parts (0: off, the floor is
# MP_MIN_HALF all day), the length of a part (ns), then the floor of each part (ticks)
MP_PROFILE_PARTS, MP_PROFILE_PART_NS, MP_PROFILE_FLOORS = MP_FIELDS, MP_FIELDS + 1, MP_FIELDS + 2


@numba.njit(cache=True)
def maker_size(buy_volume, sell_volume, mp):
    """Lots per level: ``max(min_size, round(pov * volume))`` of the last window (ABIDES ``update_order_size``)."""
    return max(np.int64(mp[MP_MIN_SIZE]), np.int64(np.rint(mp[MP_POV] * (buy_volume + sell_volume))))


@numba.njit(cache=True)
def touch_size(gen, mp, side):
    """One size of a maker's touch order of ``side`` (+1 bid, -1 ask) under that side's size law of ``mp``
    (:func:`mixture_size`; two draws whichever the side)."""
    if side < 0:
        return mixture_size(gen, mp[MP_TOUCH_ASK_CDF : MP_TOUCH_ASK_CDF + MP_TOUCH_COMPONENTS],
                            mp[MP_TOUCH_ASK_LOG_MEAN], mp[MP_TOUCH_ASK_LOG_SD])  # fmt: skip
    return mixture_size(gen, mp[MP_TOUCH_CDF : MP_TOUCH_CDF + MP_TOUCH_COMPONENTS], mp[MP_TOUCH_LOG_MEAN],
                        mp[MP_TOUCH_LOG_SD])  # fmt: skip


@numba.njit(cache=True)
def maker_floor(mp, t, open_ns):
    """The quotes' minimum half-spread (ticks) at calendar ``t``: ``MP_MIN_HALF``, or with the intraday profile on
    the floor of the part of the session ``t`` falls in (before the open: the first part; past the last part: the
    last)."""
    parts = np.int64(mp[MP_PROFILE_PARTS])
    if parts == 0:
        return np.int64(mp[MP_MIN_HALF])
    part = min(max((t - open_ns) // np.int64(mp[MP_PROFILE_PART_NS]), np.int64(0)), parts - 1)
    return np.int64(mp[MP_PROFILE_FLOORS + part])


@numba.njit(cache=True)
def maker_ladder(window, mid, buy_volume, sell_volume, mp, u, floor):
    """The ladder (lowest bid, highest bid, lowest ask, step) around the imbalance-skewed mid (Chakraborty-Kearns).

    Source: ABIDES ``compute_orders_to_place`` (anchor middle, adaptive window): ``window`` = smoothed spread ``w``,
    step = ``max(1, round(level_spacing * w))``, mid skewed by ``price_skew * (2 buy / (buy + sell) - 1)``, best
    bid ``mid - floor(w / 2)``, best ask ``mid + ceil(w / 2)``, ``levels`` prices per side ``step`` apart.
    Ours: with a prior volume ``v0 = MP_SKEW_PRIOR`` > 0 the imbalance is ``(buy - sell) / (buy + sell + v0)``, the
    buy share shrunk toward one half by ``v0 / 2`` lots a side (a Beta prior), and the ladder moves by ``skew x
    imbalance`` whole ticks toward zero (ABIDES truncates the skewed price instead, which takes a move of a fraction
    of a tick one tick down for sells and none for buys; under the prior most moves are such fractions), so a
    window's skew grows linearly with its net volume while that is small against ``v0`` and saturates beyond, the
    aggregate impact of Patzelt and Bouchaud (2018, "Universal scaling and nonlinearity of aggregate price impact in
    financial markets", Phys. Rev. E 97); ABIDES' ratio (``v0`` 0) moves the ladder by the whole skew for a lone lot
    in a quiet window (docs/agents_skew_prior.md). With ``MP_SKEW_RANDOM`` (ours, with the prior) the move ``x =
    skew x imbalance`` is rounded at random instead: its size ``|x|`` to ``floor(|x|) + 1`` when the uniform draw
    ``u < |x| - floor(|x|)`` and to ``floor(|x|)`` otherwise, its sign kept, so its expected value is ``x`` and a
    sell moves the ladder down exactly as far as a buy of the same size moves it up under the same draw: a window's
    net flow of a few lots, which rounds to no move toward zero, moves the ladder a tick with a probability
    proportional to it (stochastic rounding, docs/agents_skew_rounding.md). ``u`` is read only then. Each
    half-spread is at least ``floor`` ticks (``MP_MIN_HALF``, or its intraday profile: :func:`maker_floor`; the spread
    floor; 0 leaves ABIDES' ladder as it is), as the inventory-free spread term of Avellaneda and Stoikov (2008,
    "High-frequency trading in a limit order book", Quant. Finance 8), which a maker quotes whatever the spread it
    observes.
    """
    step = max(np.int64(1), np.int64(np.rint(mp[MP_SPACING] * window)))
    point = mid
    if buy_volume + sell_volume > 0:
        if mp[MP_SKEW_PRIOR] > 0:  # ours: the ratio with a prior volume, the move in whole ticks toward zero or
            # rounded at random
            imbalance = (buy_volume - sell_volume) / (buy_volume + sell_volume + mp[MP_SKEW_PRIOR])
            move = imbalance * mp[MP_SKEW]
            if mp[MP_SKEW_RANDOM] > 0:  # the size up with the probability of its fraction, the sign kept
                size = abs(move)
                whole = math.floor(size)
                ticks = np.int64(whole) + (np.int64(1) if u < size - whole else np.int64(0))
                point = mid + ticks if move >= 0 else mid - ticks
            else:
                point = mid + np.int64(move)
        else:
            imbalance = 2.0 * buy_volume / (buy_volume + sell_volume) - 1.0
            point = np.int64(mid + imbalance * mp[MP_SKEW])  # int(): the price toward zero, as ABIDES
    high_bid = point - max(np.int64(math.floor(0.5 * window)), floor)
    low_ask = point + max(np.int64(math.ceil(0.5 * window)), floor)
    levels = np.int64(mp[MP_LEVELS])
    return high_bid - (levels - 1) * step, high_bid, low_ask, step


@numba.njit(cache=True)
def inventory_shift(inventory, mp):
    """Ticks a maker's ladder centre moves down for its ``inventory`` (lots; long > 0, short < 0): ``int(skew *
    inventory)`` (toward zero), at most ``MP_INV_SKEW_MAX`` ticks either way when that cap is > 0; 0 with the skew off.

    Ours, after the inventory term of the reservation price of Avellaneda and Stoikov (2008, "High-frequency trading
    in a limit order book", Quant. Finance 8: ``r = s - q gamma sigma^2 (T - t)``) and its stationary form in
    Gueant, Lehalle and Fernandez-Tapia (2013, "Dealing with the inventory risk: a solution to the market making
    problem", Math. Financ. Econ. 7): both quotes move against the inventory, linearly in it, so a long maker lowers
    its bid (buys less) and its ask (sells more). The coefficient is a number of ticks per lot, not derived from a
    risk aversion; the cap is ours (GLFT stop quoting one side at an inventory bound instead).
    """
    shift = np.int64(mp[MP_INV_SKEW] * inventory)
    cap = np.int64(mp[MP_INV_SKEW_MAX])
    if cap > 0:
        shift = min(max(shift, -cap), cap)
    return shift


@numba.njit(cache=True)
def post_only(low_bid, high_bid, low_ask, bid, ask, gap):
    """A ladder kept off the other side's touch seen at the decision (ours, with the inventory skew or the slow centre
    on): the bid side moved down so that its best bid is at most ``ask - g``, the ask side up so that its best ask is
    at least ``bid + g``, ``g = max(1, gap)`` (``eng.NO_PRICE``: that side is empty, no clip). Returns (lowest bid,
    highest bid, lowest ask).

    A skewed maker quotes against its inventory; unclipped, a long maker's asks would cross the book and a short
    maker's bids would meet them, and makers sized by the traded volume (``pov``) would then trade with each other at
    ever larger sizes. Real makers post such quotes as post-only orders, which never take liquidity (e.g. Nasdaq's
    Post-Only order attribute; Cboe's Post Only), the inside quote of Avellaneda and Stoikov's maker staying on its
    own side of the market. ``gap`` (``post_only_gap_ticks``, ours; 0 or 1: one tick): a clipped side keeps that
    many ticks from the other side's touch, so a maker whose centre lags the price still quotes a spread of at least
    ``g`` ticks against the touch it saw instead of closing it to one tick (docs/agents_impact_v17.md, section 6).
    """
    g = max(np.int64(1), np.int64(gap))
    if ask != eng.NO_PRICE and high_bid > ask - g:
        down = high_bid - (ask - g)
        low_bid, high_bid = low_bid - down, high_bid - down
    if bid != eng.NO_PRICE and low_ask < bid + g:
        low_ask = bid + g
    return low_bid, high_bid, low_ask


@numba.njit(cache=True)
def maker_observe(state, bid, ask, two_sided, mp):
    """Update the smoothed spread ``w <- alpha s + (1 - alpha) w`` and the last mid (``M_HAS_MID`` set once one was
    seen: the mid itself may be any integer, even below 0); returns whether a mid was ever seen, and that mid."""
    if two_sided:
        state[M_MID] = (ask + bid) // 2
        state[M_HAS_MID] = 1.0
        state[M_SPREAD] = mp[MP_ALPHA] * (ask - bid) + (1.0 - mp[MP_ALPHA]) * state[M_SPREAD]
    return state[M_HAS_MID] > 0, np.int64(state[M_MID])


@numba.njit(cache=True)
def maker_centre(state, mid, t, halflife_ns, snap_ticks):
    """The maker's ladder centre (ours): ``mid`` itself with ``halflife_ns`` 0 (ABIDES); otherwise an exponential
    moving average of the mids it saw at its decisions, in calendar time, ``c <- w c + (1 - w) mid`` with ``w =
    exp(-ln 2 (t - t_prev) / halflife)`` (the first decision starts it at ``mid``), rounded to a whole tick. With
    ``snap_ticks`` > 0 an updated ``c`` more than that many ticks from ``mid`` is set to ``mid`` (the snap, counted
    in ``state[M_SNAPS]``)."""
    if halflife_ns <= 0:
        return mid
    if state[M_CENTRE_T] < 0:
        state[M_CENTRE] = mid
    else:
        w = math.exp(-LN2 * (t - state[M_CENTRE_T]) / halflife_ns)
        state[M_CENTRE] = w * state[M_CENTRE] + (1.0 - w) * mid
        if snap_ticks > 0 and abs(mid - state[M_CENTRE]) > snap_ticks:
            state[M_CENTRE] = mid
            state[M_SNAPS] += 1.0
    state[M_CENTRE_T] = t
    return np.int64(np.rint(state[M_CENTRE]))


@numba.njit(cache=True)
def maker_withdraws(inventory, mid, previous_mid, mp):
    """True when the maker pulls back: ``|inventory| >= withdraw_inventory`` lots or the mid moved by
    ``>= withdraw_move`` bps since its last look (each trigger off at 0). Ours (issue 14's withdrawal rule): then its
    size shrinks by ``withdraw_size`` and its window widens by ``withdraw_spread``."""
    if mp[MP_WITHDRAW_INV] > 0 and abs(inventory) >= mp[MP_WITHDRAW_INV]:
        return True
    if mp[MP_WITHDRAW_MOVE] > 0 and previous_mid > 0:
        return abs(mid - previous_mid) / previous_mid * 1e4 >= mp[MP_WITHDRAW_MOVE]
    return False


# ---------------------------------------------------------------- the market's activity: business time (ours)

# rows of the activity clock (one column per grid cell): the log-activity, the rate of business time per calendar ns,
# the business ns from the open to the cell's start
AC_LOG, AC_RATE, AC_START = 0, 1, 2


@numba.njit(cache=True)
def activity_step(gen, log_activity, decay, sd):
    """The log-activity one grid step later: the exact transition of an OU process of stationary sd ``sd``,
    ``N(a x, sd^2 (1 - a^2))`` with ``a = decay = e^{-step / time}``. One ``standard_normal()`` draw."""
    return decay * log_activity + sd * math.sqrt(1.0 - decay * decay) * gen.standard_normal()


@numba.njit(cache=True)
def activity_clock(gen, n_cells, decays, sd, step_ns):
    """The activity on ``n_cells`` grid cells of ``step_ns`` from the open: rows ``AC_LOG`` (``x``, the sum of
    ``K = len(decays)`` independent log-OUs of stationary sd ``sd / sqrt(K)`` each, component ``k`` of
    :func:`activity_step` decay ``decays[k]``: drawn from its stationary law in the first cell, then stepped per
    cell; the components are drawn one after the other), ``AC_RATE`` (``exp(x - sd^2 / 2)``, mean 1: ``x`` is
    ``N(0, sd^2)``) and ``AC_START`` (business ns from the open to each cell's start, the running sum of rate x
    step). Draws: ``K n_cells`` ``standard_normal()``; with ``K = 1`` the draws and values of the one-time clock.
    (With an intraday ``activity_profile`` the market then multiplies each cell's ``AC_RATE`` by its part's weight
    over the weights' mean and rebuilds ``AC_START``; ``AC_LOG`` stays the log-OU: ``simlab.agents.market``.)"""
    out = np.zeros((3, n_cells))
    part = sd / math.sqrt(float(decays.shape[0]))
    for k in range(decays.shape[0]):
        x = part * gen.standard_normal()
        for j in range(n_cells):
            if j > 0:
                x = activity_step(gen, x, decays[k], part)
            out[AC_LOG, j] += x
    total = 0.0
    for j in range(n_cells):
        out[AC_RATE, j], out[AC_START, j] = math.exp(out[AC_LOG, j] - 0.5 * sd * sd), total
        total += out[AC_RATE, j] * float(step_ns)
    return out


@numba.njit(cache=True, inline="always")
def _cell(clock, open_ns, step_ns, t):
    return min(max((t - open_ns) // step_ns, np.int64(0)), np.int64(clock.shape[1] - 1))


@numba.njit(cache=True)
def business_ns(clock, open_ns, step_ns, t):
    """Business ns from the open to calendar ``t`` (ns) under the activity ``clock`` (:func:`activity_clock`; the
    last cell's rate continues past the grid's end)."""
    j = _cell(clock, open_ns, step_ns, t)
    return clock[AC_START, j] + clock[AC_RATE, j] * float(t - (open_ns + j * step_ns))


@numba.njit(cache=True)
def calendar_ns(clock, open_ns, step_ns, t, wait):
    """The calendar ns (rounded; never before ``t``) at which ``wait`` business ns have passed since ``t``: the cell
    where the business time reaches its target, then the rest over that cell's rate."""
    target = business_ns(clock, open_ns, step_ns, t) + wait
    j = _cell(clock, open_ns, step_ns, t)
    while j + 1 < clock.shape[1] and clock[AC_START, j + 1] <= target:
        j += 1
    at = open_ns + j * step_ns + np.int64(np.rint((target - clock[AC_START, j]) / clock[AC_RATE, j]))
    return max(t, at)


# ---------------------------------------------------------------- the noise clock and order splitting (ours)

# noise agent state (with the clock): N_SIDE (+1 / -1, the side of its metaorder), N_LEFT (child orders left)
N_SIDE, N_LEFT = 0, 1


@numba.njit(cache=True)
def hawkes_wait(gen, excess, base, jump, decay):
    """The wait to the next event of a Hawkes process with exponential kernel, exactly; returns (wait, excess after).

    The intensity is ``base + excess(t)``, the excess decaying at rate ``decay`` and jumping by ``jump`` at each
    event (branching ratio ``jump / decay``); ``excess`` is its value just after the last event (all per ns). Exact
    simulation by Dassios and Zhao (2013, "Exact simulation of Hawkes process with exponentially decaying
    intensity", Electron. Commun. Probab. 18): the first of a baseline arrival ``E / base`` and the excess's own
    arrival ``-log(1 + decay log(U) / excess) / decay`` (none when the log's argument is <= 0). Draws: always
    ``standard_exponential()`` then ``random()`` (``U = 1 - random()``, in (0, 1]).
    """
    s_base = gen.standard_exponential() / base
    u = gen.random()
    s_excess = math.inf
    if excess > 0:
        d = 1.0 + decay * math.log1p(-u) / excess
        if d > 0:
            s_excess = -math.log(d) / decay
    wait = min(s_base, s_excess)
    return wait, excess * math.exp(-decay * wait) + jump


@numba.njit(cache=True)
def metaorder_length(w, alpha, cap):
    """Child orders of a new metaorder: ``min(cap, floor((1 - w)^(-1 / alpha)))`` for ``w`` uniform on [0, 1), so
    ``P(L >= l) = l^-alpha`` (a discrete Pareto law, >= 1). Source: Lillo, Mike and Farmer (2005, "Theory for long
    memory in supply and demand", Phys. Rev. E 71): metaorders of Pareto lengths, tail ``alpha``, split into child
    orders give trade signs whose ACF decays as ``lag^-(alpha - 1)``."""
    return np.int64(min(float(cap), math.floor((1.0 - w) ** (-1.0 / alpha))))
