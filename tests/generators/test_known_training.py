"""Training on known depth only: the blocks that read a book with an unknown cell in the encoded levels are dropped
(``known_depth_only``), the others kept, and nothing changes without the option."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from generators import encoding as enc
from generators.diffusion import DiffusionGenerator
from generators.spec import known_depth_only, load_spec
from generators.training import BlockData
from simlab.errors import DataError, ParameterError
from tests.generators.test_diffusion import SMALL

CPU = torch.device("cpu")


def masked(books, unknown_rows, *, level: int = 3, side: str = "bid"):
    """Return ``books`` with the replay masks: every cell known except ``level`` and beyond of ``side`` on the rows
    ``unknown_rows``, and the ask's levels beyond the encoded ten unknown everywhere (they must not count)."""
    shape = (books.sizes["time"], books.sizes["level"])
    masks = {name: np.ones(shape, dtype=bool) for name in enc.MASK_FIELDS}
    masks[f"{side}_determined"][np.asarray(unknown_rows)[:, None], level:] = False
    return books.assign({name: (("time", "level"), mask) for name, mask in masks.items()})


def slow_starts(unknown_rows: set[int], n: int, history: int, block: int) -> list[int]:
    """The block starts of an encoded flow of ``n`` messages whose book rows [start - history, start + block) are
    all known, by a plain loop (message i's book before is books row i)."""
    starts = range(history, n - block + 1)
    return [s for s in starts if not any(r in unknown_rows for r in range(s - history, s + block))]


@pytest.fixture(scope="module")
def spans_with_masks(zi_spans):
    """The ZI spans with masks: a few isolated and clustered unknown rows in train, one cluster in validation."""
    rng = np.random.default_rng(5)
    n_train = zi_spans["train"]["books"].sizes["time"]
    train_rows = sorted(set(rng.choice(n_train - 1, 12, replace=False).tolist()) | set(range(100, 140)))
    validation_rows = list(range(20, 60))
    return {
        "train": {**zi_spans["train"], "books": masked(zi_spans["train"]["books"], train_rows)},
        "validation": {
            **zi_spans["validation"],
            "books": masked(zi_spans["validation"]["books"], validation_rows, level=0, side="ask"),
        },
    }, {"train": set(train_rows), "validation": set(validation_rows)}


def test_known_depth_only_drops_exactly_the_blocks_that_read_an_unknown_cell(spans_with_masks):
    spans, unknown = spans_with_masks
    train = known_depth_only(spans["train"], "test.toml")
    encoding = enc.fit_encoding(train["events"], train["books"], history=SMALL.history, source="train span")
    assert encoding.known_depth_only and encoding.to_dict()["known_depth_only"] is True
    assert enc.Encoding.from_dict(json.loads(json.dumps(encoding.to_dict()))) == encoding
    for name, span in (("train", train), ("validation", spans["validation"])):
        flow = enc.encode(span["events"], span["books"], encoding, source=name)
        n = len(flow)
        expected_known = np.array([i not in unknown[name] for i in range(n)])
        np.testing.assert_array_equal(flow.known, expected_known)
        data = BlockData(flow, SMALL, CPU, name)
        kept = slow_starts(unknown[name], n, SMALL.history, SMALL.block)
        assert data.starts.tolist() == kept
        assert data.dropped == (n - SMALL.block + 1 - SMALL.history) - len(kept) > 0
        # the same books without masks, or an encoding without the option: every block
        plain = enc.encode(span["events"], span["books"].drop_vars(list(enc.MASK_FIELDS)), encoding, source=name)
        assert plain.known is None
        assert BlockData(plain, SMALL, CPU, name).starts.tolist() == list(range(SMALL.history, n - SMALL.block + 1))


def test_without_the_option_nothing_changes(zi_spans, spans_with_masks):
    spans, _ = spans_with_masks
    bare = zi_spans["train"]
    with_masks = spans["train"]
    a = enc.fit_encoding(bare["events"], bare["books"], history=SMALL.history)
    b = enc.fit_encoding(with_masks["events"], with_masks["books"], history=SMALL.history)
    assert not b.known_depth_only and "known_depth_only" not in b.to_dict()
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())  # the saved encoding, byte for byte
    flow = enc.encode(with_masks["events"], with_masks["books"], b)
    assert flow.known is None
    reference = enc.encode(bare["events"], bare["books"], a)
    data, ref = BlockData(flow, SMALL, CPU, "train"), BlockData(reference, SMALL, CPU, "train")
    assert torch.equal(data.starts, ref.starts) and data.dropped == 0
    assert torch.equal(data.vectors, ref.vectors) and torch.equal(data.book, ref.book)


def test_a_fitted_model_records_the_option_and_trains_on_known_blocks(spans_with_masks, tmp_path):
    spans, _ = spans_with_masks
    train = {"train": known_depth_only(spans["train"], "test.toml"), "validation": spans["validation"]}
    generator = DiffusionGenerator(SMALL, device="cpu").fit(train, seed=3)
    generator.save(tmp_path / "model")
    saved = json.loads(next(tmp_path.joinpath("model").glob("config.json")).read_text())
    assert saved["encoding"]["known_depth_only"] is True
    assert DiffusionGenerator.load(tmp_path / "model").encoding_.known_depth_only


def test_the_option_is_refused_without_masks_or_blocks(zi_spans, tmp_path):
    with pytest.raises(ParameterError, match="known_depth_only in table 'data' needs books with the masks"):
        known_depth_only(zi_spans["train"], "spec.toml")
    # asked for directly on books without masks
    books = zi_spans["train"]["books"].assign_attrs({enc.KNOWN_DEPTH_ONLY: True})
    with pytest.raises(DataError, match="train span: known_depth_only needs books with the masks"):
        enc.fit_encoding(zi_spans["train"]["events"], books, history=SMALL.history, source="train span")
    # every row unknown: no block left, named with its counts
    span = zi_spans["validation"]
    every = masked(span["books"], list(range(span["books"].sizes["time"])))
    encoding = enc.fit_encoding(
        zi_spans["train"]["events"], masked(zi_spans["train"]["books"], [0]).assign_attrs({enc.KNOWN_DEPTH_ONLY: True}),
        history=SMALL.history,
    )  # fmt: skip
    flow = enc.encode(span["events"], every, encoding)
    with pytest.raises(DataError, match=r"validation span: known_depth_only leaves no block: all \d+ blocks"):
        BlockData(flow, SMALL, CPU, "validation span")
    # the spec key is a bool
    spec = tmp_path / "spec.toml"
    spec.write_text('[data]\nmessage = "m.csv"\nbooks = ["b.csv"]\nknown_depth_only = "yes"\n[model]\nseed = 1\n')
    with pytest.raises(ParameterError, match="known_depth_only in table 'data' must be true or false; got 'yes'"):
        load_spec(spec)
    spec.write_text('[data]\nmessage = "m.csv"\nbooks = ["b.csv"]\nknown_depth_only = true\n[model]\nseed = 1\n')
    assert load_spec(spec).known_depth_only
