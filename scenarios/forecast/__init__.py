"""The order-flow forecasting benchmark (issue 7): OFI forecasters judged against the true-model oracle and real data.

``data`` builds the targets (buy/sell counts per window, OFI(T, h) and its signal) from real Binance trades or from
Hawkes presets with their true state; ``forecasters``, ``neural`` and ``hawkes_models`` hold the models (one
interface); ``protocol`` the walk-forward splits and scores; ``audit`` the leakage audit against the oracle;
``paper`` the seed paper's grid and Table 4; ``tstr`` train-on-synthetic / test-on-real; ``runner``, ``spec`` and
``report`` the `simlab forecast run` command's spec, run and report.
"""
