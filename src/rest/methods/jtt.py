"""JTT (Liu et al., 2021): train ERM for a few epochs, then upweight its error set.

No bias labels needed: the conflicting set is always inferred (``--infer-epochs``
epochs of ERM), and scored against the bias labels when they exist.
"""

from __future__ import annotations

from rest.methods.base import METHODS
from rest.methods.reweight import Reweight


@METHODS.register("jtt")
class JTT(Reweight):
    conflict_source = "jtt"
    reads = Reweight.reads - {"reweight.gce_q"}  # the ERM error set needs no GCE
