"""Unpickle data files that hold only plain containers and NumPy arrays, and nothing else.

A pickle is a program: it may name any importable callable and call it, so a
crafted data file runs code the moment the plain :mod:`pickle` module reads it.
Some data formats are pickles all the same (the CIFAR-10 "python version"
batches), so :func:`load_data_pickle` reads them with an unpickler that resolves
only the handful of globals a pickled dict of lists, bytes, strings, numbers and
NumPy arrays needs, and refuses every other global with one line naming it.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from rest.data.access import permission_denied
from rest.errors import RestError

# The globals NumPy arrays are pickled with (protocols 2..5, NumPy 1.x and 2.x), and
# what Python 3 uses to pickle bytes at protocol 2. None of them runs user code.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
        ("builtins", "bytearray"),
    }
)


# Python 2 module names that protocol 0-2 pickles carry for what Python 3 calls builtins.
_PYTHON2_MODULES = {"__builtin__": "builtins"}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module = _PYTHON2_MODULES.get(module, module)
        if (module, name) not in ALLOWED_GLOBALS:
            raise RefusedGlobal(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core.") and int(np.__version__.split(".")[0]) >= 2:
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return getattr(importlib.import_module(module), name)

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedGlobal("refusing a persistent reference")


def load_data_pickle(path: Path, what: str) -> Any:
    """The object pickled in ``path`` (``what`` names the format in errors).

    Raises :class:`RestError` -- one line naming the file and the refused global --
    when the file asks for anything beyond containers, bytes, strings, numbers and
    NumPy arrays. (An object-dtype array can only hold what the same rules let
    through.)
    """
    try:
        with path.open("rb") as f:
            loaded = _DataUnpickler(f, encoding="bytes").load()
    except PermissionError as error:
        raise permission_denied(error) from None
    except RefusedGlobal as error:
        raise RestError(
            f"{path} is not a plain {what}: {error}; it may be a crafted file that runs code, "
            "so it was not loaded"
        ) from None
    except (OSError, EOFError, pickle.UnpicklingError, MemoryError, RecursionError) as e:
        raise RestError(f"cannot read {what} {path}: {e!r}") from None
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:  # damaged opcodes
        raise RestError(f"cannot read {what} {path}: {e!r}") from None
    return loaded
