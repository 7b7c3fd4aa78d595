"""Errors of bundle export and import, inside jitwarm's one exception tree."""

from __future__ import annotations

from jitwarm.errors import UsageError


class BundleError(UsageError):
    """A bundle that is malformed, truncated, tampered with or hostile. Nothing was installed."""


class ProvenanceMismatchError(UsageError):
    """A bundle built for another host (arch, SMs, DeepGEMM, nvcc or key-changing settings).

    ``reasons`` holds one line per differing field; ``--force`` installs anyway.
    """

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(
            "bundle does not match this host: " + "; ".join(reasons) + " (--force installs anyway)"
        )
        self.reasons = reasons
