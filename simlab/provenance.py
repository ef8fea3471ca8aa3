"""Provenance attributes carried by every store simlab writes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1.0"


@cache
def git_commit() -> str:
    """Return the git commit of the simlab checkout (``"unknown"`` outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def file_sha256(path: str | Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(
    *,
    seed: int | None,
    config: str | dict[str, Any] | None = None,
    true_params: dict[str, Any] | None = None,
    sources: list[str | Path] | None = None,
    digests: bool = False,
) -> dict[str, Any]:
    """Build the provenance attributes of an output.

    Parameters
    ----------
    seed
        The run's root seed; ``None`` only for data ingested from real files (nothing random).
    config
        The configuration text (TOML) or a JSON-serialisable mapping.
    true_params
        For synthetic data, the parameters that generated it (JSON-serialisable).
    sources
        Input files; each is recorded by name and size in bytes.
    digests
        Also record each source's SHA-256 (reads the files again; :func:`simlab.io.ingest` does it once per store).
    """
    from simlab import __version__

    attrs: dict[str, Any] = {
        "simlab_version": __version__,
        "git_commit": git_commit(),
        "schema_version": SCHEMA_VERSION,
        "seed": seed,
        "config": config if isinstance(config, str) or config is None else json.dumps(config, sort_keys=True),
    }
    if true_params is not None:
        attrs["true_params"] = json.dumps(true_params, sort_keys=True)
    if sources:
        described = [{"name": Path(s).name, "bytes": Path(s).stat().st_size} for s in sources]
        if digests:
            for entry, source in zip(described, sources, strict=True):
                entry["sha256"] = file_sha256(source)
        attrs["sources"] = json.dumps(described)
    return attrs
