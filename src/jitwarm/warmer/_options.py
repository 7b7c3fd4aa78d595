"""``WarmOptions``: how one warm runs, checked once before anything starts.

``jitwarm.warm(plan, jobs=8)`` builds these from its keywords; ``warm(plan, WarmOptions(...))``
passes them whole. A switch that would have no effect in the combination given is refused in
one line (a :class:`WarmUsageError`), never silently ignored.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from jitwarm.errors import WarmUsageError

if TYPE_CHECKING:
    from jitwarm.profiles import DetectedBuild
    from jitwarm.warmer._backend import Backend

DEFAULT_PEER_WAIT_S = 3600.0


@dataclass(frozen=True)
class WarmOptions:
    """See :func:`jitwarm.warm` for what each option does.

    ``ahead``: None (the default) compiles ahead wherever it applies; True asks for it and is
    refused where it cannot apply (a custom ``backend`` without ``build``, ``full_sweep``);
    False turns it off.
    """

    jobs: int | None = None
    cache_dir: str | os.PathLike[str] | None = None
    exact: bool = False
    allow_key_changing_env: bool = False
    full_sweep: bool = False
    backend: Backend | None = None
    capture_backend: Backend | None = None
    devices: Sequence[str] | None = None
    progress: bool = False
    ahead: bool | None = None
    build: DetectedBuild | None = None
    leader_only: bool = False
    peer_wait_s: float = DEFAULT_PEER_WAIT_S

    def __post_init__(self) -> None:
        if self.jobs is not None and self.jobs < 1:
            raise WarmUsageError(f"--jobs must be >= 1, got {self.jobs}")
        if self.peer_wait_s < 0:
            raise WarmUsageError(f"peer_wait_s must be >= 0, got {self.peer_wait_s}")
        if self.ahead and self.full_sweep:
            raise WarmUsageError(
                "ahead=True does not apply with full_sweep=True (a full sweep calls every M "
                "through DeepGEMM); leave ahead unset"
            )
        if self.ahead and self.backend is not None and self.build is None:
            raise WarmUsageError(
                "ahead=True does not apply to a custom backend: compiling ahead needs "
                "DeepGEMM's backend, or build= (a DeepJIT build is then built locally first)"
            )
        if self.exact and self.full_sweep:
            raise WarmUsageError(
                "exact=True does not apply with full_sweep=True (a full sweep calls every M "
                "for real, nothing is captured)"
            )
        if self.capture_backend is not None and not self.exact:
            raise WarmUsageError("capture_backend= is used only with exact=True")

    @classmethod
    def of(cls, options: WarmOptions | None, keywords: Mapping[str, Any]) -> WarmOptions:
        """``options``, or the options the keywords name (not both)."""
        if options is not None and keywords:
            raise WarmUsageError(
                f"pass warm options either as WarmOptions or as keywords, not both "
                f"(got options= and {', '.join(sorted(keywords))})"
            )
        if options is not None:
            if not isinstance(options, WarmOptions):
                raise WarmUsageError(f"options must be a WarmOptions, got {type(options).__name__}")
            return options
        known = [f.name for f in fields(cls)]
        for name in keywords:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise WarmUsageError(f"unknown warm option {name!r}{hint}")
        return cls(**keywords)

    @property
    def builds_locally_first(self) -> bool:
        """Whether warm looks for a DeepJIT build to build locally first. A test double's warm
        stays on the workers unless it names the build (as the CLI does)."""
        return (
            self.ahead is not False
            and not self.full_sweep
            and (self.backend is None or self.build is not None)
        )

    @property
    def compiles_ahead(self) -> bool:
        """Whether warm starts nvcc in its own process for DeepGEMM's workers (upstream JIT)."""
        return self.ahead is not False and self.backend is None and not self.full_sweep

    @property
    def captures(self) -> bool:
        return self.exact and not self.full_sweep
