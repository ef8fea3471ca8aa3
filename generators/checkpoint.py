"""Checkpoints of the generators: a folder with ``config.json`` (hyperparameters, encoding, provenance, digest) and
``weights.pt`` (tensors only), written atomically and refused whole when anything does not match.

A checkpoint is refused, with our error sentence and before any tensor reaches a model, when its ``config.json`` is
missing or not JSON, when it was written by another simlab version, checkpoint format or encoding layout, when its
family is not the one asked for, or when ``weights.pt`` does not have the SHA-256 recorded in ``config.json`` (a
corrupted or swapped file).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from simlab.errors import DataError, StoreError

FORMAT = "simlab-generator"
CHECKPOINT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE = "config.json", "weights.pt"


def save_checkpoint(path: str | Path, meta: dict[str, Any], tensors: dict[str, Any]) -> Path:
    """Write ``meta`` (JSON-serialisable) and ``tensors`` (a nest of dicts of tensors) to the folder ``path``.

    The folder is written beside its final place and renamed over it, so a reader never sees half of it.
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    weights = buffer.getvalue()
    from simlab import __version__

    document = {"format": FORMAT, "checkpoint_version": CHECKPOINT_VERSION, "simlab_version": __version__, **meta}
    document["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / WEIGHTS_FILE).write_bytes(weights)
    (tmp / CONFIG_FILE).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        if not (path / CONFIG_FILE).exists():
            shutil.rmtree(tmp)
            raise StoreError(f"{path} exists and is not a generator checkpoint; refusing to replace it")
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def load_checkpoint(path: str | Path, family: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(meta, tensors)`` of a checkpoint folder after every check of the module docstring."""
    path = Path(path)
    config = path / CONFIG_FILE
    if not config.is_file():
        raise DataError(f"checkpoint {path}: expected a folder with {CONFIG_FILE} and {WEIGHTS_FILE}; found none")
    try:
        meta = json.loads(config.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"checkpoint {path}: {CONFIG_FILE} is corrupted (not JSON: {error})") from None
    _check_meta(path, meta, family)
    try:
        weights = (path / WEIGHTS_FILE).read_bytes()
    except OSError as error:
        raise DataError(f"checkpoint {path}: {WEIGHTS_FILE} cannot be read ({error})") from None
    digest = hashlib.sha256(weights).hexdigest()
    if digest != meta.get("weights_sha256"):
        raise DataError(
            f"checkpoint {path}: {WEIGHTS_FILE} is corrupted (SHA-256 {digest[:12]}..., {CONFIG_FILE} records "
            f"{str(meta.get('weights_sha256'))[:12]}...)"
        )
    try:
        tensors = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    except Exception as error:  # any unpickling failure: a corrupted file
        raise DataError(f"checkpoint {path}: {WEIGHTS_FILE} cannot be read as tensors ({error})") from None
    return meta, tensors


def layout_versions(family: str) -> dict[str, Any]:
    """Return what a checkpoint of ``family`` must record in its ``config.json`` to load in this simlab.

    The network's own version is checked by its class (``network_version``, :meth:`BookGenerator.load`). A
    checkpoint whose encoding has ``cancel_position = "volume"`` (or ``"depth"``, ``"spread"``) must record
    :func:`generators.encoding.layout_version` of it instead (a string, which a simlab without the option refuses).
    """
    from generators.encoding import ENCODING_VERSION
    from simlab import __version__

    return {
        "checkpoint_version": CHECKPOINT_VERSION,
        "simlab_version": __version__,
        "encoding_version": ENCODING_VERSION,
        "family": family,
    }


def _check_meta(path: Path, meta: Any, family: str) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise DataError(f"checkpoint {path}: {CONFIG_FILE} must have format {FORMAT!r}; got {found!r}")
    expected = layout_versions(family)
    encoding = meta.get("encoding")
    from generators.encoding import ADD_PRICES, CANCEL_POSITIONS, TRADE_MESSAGES, layout_version

    if isinstance(encoding, dict):
        position, add_price = encoding.get("cancel_position", "level"), encoding.get("add_price", "opposite")
        trade_message = encoding.get("trade_message", "fill")
        if position in CANCEL_POSITIONS and add_price in ADD_PRICES and trade_message in TRADE_MESSAGES:
            expected["encoding_version"] = layout_version(position, add_price, trade_message)  # the options' layout
    for key, value in expected.items():
        if meta.get(key) != value:
            raise DataError(
                f"checkpoint {path}: {key} must be {value!r} (this simlab); got {meta.get(key)!r}; retrain the model"
            )
