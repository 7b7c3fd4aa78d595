"""DeepGEMM's backend as warm's default (``jitwarm.warmer.register_default_backend``) and its
calls as verify's (``jitwarm.verify.register_default_calls``): imported with this package, so
neither ``jitwarm.warmer`` nor ``jitwarm.verify`` ever imports upward."""

from __future__ import annotations

from jitwarm.verify import CallsProvider, register_default_calls
from jitwarm.warmer import Backend, register_default_backend


def _deepgemm_backend(*, capture: bool = False) -> Backend:
    from jitwarm.deepgemm._backend import DeepGEMMBackend  # no torch import until a worker runs

    return DeepGEMMBackend(capture=capture)


def _deepgemm_calls() -> CallsProvider:
    from jitwarm.deepgemm._verify_calls import DeepGEMMCalls  # no torch import until it runs

    return DeepGEMMCalls()


register_default_backend(_deepgemm_backend)
register_default_calls(_deepgemm_calls)
