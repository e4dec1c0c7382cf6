"""Fill the config's ``None`` defaults from the dataset and method, and check combinations.

What a run records in its ``config.json`` is the resolved config, so a run
directory says exactly which model, learning rate and density were used.
"""

from __future__ import annotations

import dataclasses

from rest.applicability import changed_fields, check_fields_read
from rest.config import TrainConfig, replace
from rest.data.dataset import BiasedSplits
from rest.errors import RestError
from rest.methods import METHODS
from rest.models import MODELS
from rest.sparse.config import SparseConfig

# Published learning rates (DESIGN.md 1.3): 0.01 for the Colored-MNIST CNN, 0.001 for
# ResNet-18 on Corrupted CIFAR-10 and BFFHQ. A method published with its own optimizer
# and lr (LfF: Adam at 0.001) overrides them when --optimizer and --lr are unset.
DEFAULT_LR = {"cnn": 0.01, "mlp": 0.01, "resnet18": 0.001, "resnet18-cifar": 0.001}
FALLBACK_LR = 0.001


def resolve(config: TrainConfig, splits: BiasedSplits) -> TrainConfig:
    """The config with every default that depends on data or method made explicit."""
    method = METHODS.get(config.method)
    model = config.model.model or str(splits.info.get("model", "resnet18"))
    MODELS.get(model)
    changes: dict[str, object] = {"model.model": model}
    optimizer = config.optim.optimizer or method.default_optimizer
    changes["optim.optimizer"] = optimizer
    if config.optim.lr is None:
        # a method's published lr belongs to its published optimizer
        published = method.default_lr if optimizer == method.default_optimizer else None
        changes["optim.lr"] = published or DEFAULT_LR.get(model, FALLBACK_LR)

    source = config.reweight.conflict_source
    if method.conflict_source is None:
        if source is not None:
            raise RestError(
                f"--conflict-source applies to reweighting methods (reweight, rest, jtt); "
                f"method {config.method!r} does not reweight"
            )
    elif source is None:
        changes["reweight.conflict_source"] = method.conflict_source
    elif method.conflict_source == "jtt" and source != "jtt":
        raise RestError(
            "method 'jtt' always infers its conflicting set from an ERM error set; "
            f"for --conflict-source {source} use --method reweight or rest"
        )

    check_fields_read(config, changed_fields(config))

    if not method.sparse:
        dense = SparseConfig(density=1.0)
        if config.sparse not in (SparseConfig(), dense):
            raise RestError(
                f"method {config.method!r} trains a dense network; sparse options such as "
                "--density apply to the sparse methods (sparse, rest)"
            )
        changes.update(
            {f"sparse.{f.name}": getattr(dense, f.name) for f in dataclasses.fields(dense)}
        )
    return replace(config, **changes)
