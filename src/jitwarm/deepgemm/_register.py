"""DeepGEMM's backend as warm's default (``jitwarm.warmer._backend.register_default_backend``):
imported with this package, so ``jitwarm.warmer`` never imports upward."""

from __future__ import annotations

from jitwarm.warmer import Backend, register_default_backend


def _deepgemm_backend(*, capture: bool = False) -> Backend:
    from jitwarm.deepgemm._backend import DeepGEMMBackend  # no torch import until a worker runs

    return DeepGEMMBackend(capture=capture)


register_default_backend(_deepgemm_backend)
