"""Default run-directory names: readable, and unique per configuration.

``rest-cmnist-1pct-d0.1-s42-3f9a1c``: method, dataset, conflict ratio, density,
seed, and a short hash of the whole config, so the same command lands in the same
directory (and a finished run is not trained again) while any other setting gets
its own.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from rest.config import TrainConfig
from rest.methods import METHODS
from rest.runs import RUNTIME_FIELDS


def config_hash(config: TrainConfig) -> str:
    values = config.to_dict()
    for section, name in RUNTIME_FIELDS:
        values[section].pop(name, None)
    blob = json.dumps(values, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:6]


def run_name(config: TrainConfig) -> str:
    dataset = Path(config.data.dataset).name or "data"
    dataset = re.sub(r"[^A-Za-z0-9.]+", "-", dataset).strip("-")
    parts = [config.method, dataset, f"{config.data.conflict_pct:g}pct"]
    if METHODS.get(config.method).sparse:
        parts.append(f"d{config.sparse.density:g}")
    parts += [f"s{config.run.seed}", config_hash(config)]
    return "-".join(parts)
