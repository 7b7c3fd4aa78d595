"""What every generator port takes and how it says it cannot render a kernel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jitwarm.plan import PlanEntry, PlanKernel
from jitwarm.profiles import BuildProfile


@dataclass(frozen=True)
class RenderContext:
    """The plan-wide values a generator reads besides the entry and kernel."""

    profile: BuildProfile
    arch: str  # "sm90"
    num_sms: int  # the SM count the plan bakes in (runtime->get_num_sms())


class Unrenderable(Exception):
    """Raised by a generator for a kernel it cannot render exactly; becomes a typed gap."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# (entry, kernel, context) -> (kernel tag, kernel.cu text)
Generator = Callable[[PlanEntry, PlanKernel, RenderContext], tuple[str, str]]


def cpp(value: object) -> str:
    """A value as ``std::format("{}", value)`` prints it (bools as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fill(template: str, *args: object) -> str:
    """``std::format`` for templates of plain ``{}`` and doubled braces (Python's own
    ``str.format`` reads those the same way)."""
    if template.count("{}") != len(args):
        raise ValueError(f"template takes {template.count('{}')} arguments, got {len(args)}")
    return template.format(*(cpp(a) for a in args))


def param(kernel: PlanKernel, name: str) -> object:
    """A value the plan recorded for the kernel; a plan without it cannot be rendered."""
    if name not in kernel.params:
        raise Unrenderable(f"the plan records no {name!r} for this kernel (re-plan)")
    return kernel.params[name]
