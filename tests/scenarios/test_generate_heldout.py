"""The held-out scoring's preset peers: seeded paths of a book preset from the held-out span's start."""

from __future__ import annotations

from scenarios.generate.heldout import preset_paths


def test_preset_peers_are_seeded_warmed_up_paths_from_the_held_out_start():
    start = 1_340_287_200_000_000_000  # 2012-06-21 14:00 UTC
    a = preset_paths("zi-aapl", 2, 5.0, 11, start)
    b = preset_paths("zi-aapl", 2, 5.0, 11, start)
    assert len(a) == 2
    for x, y in zip(a, b, strict=True):  # one seed, the same bytes
        assert x["events"].equals(y["events"]) and x["books"].equals(y["books"])
    assert not a[0]["events"]["ts_ns"].equals(a[1]["events"]["ts_ns"])  # each path its own child seed
    for path in a:
        ts = path["events"]["ts_ns"].values
        assert ts[0] >= start and ts[-1] <= start + 5 * 10**9
        assert path["books"].sizes["time"] == path["events"].sizes["event"]
        # the initial orders (ADD records at the start time, attribute initial_orders) are dropped
        assert (path["events"]["ts_ns"].values > start).all() and path["events"].attrs["initial_orders"] > 0
