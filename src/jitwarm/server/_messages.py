"""Messages between the HTTP process and the engine process (pickled over one Pipe)."""

from __future__ import annotations

from dataclasses import dataclass, field

# -- HTTP process -> engine ------------------------------------------------------------------


@dataclass(frozen=True)
class Submit:
    rid: int
    prompt: list[int]
    max_tokens: int


@dataclass(frozen=True)
class Ping:
    """Answered by the engine loop between two steps: a stalled step delays the answer."""

    pid: int


@dataclass(frozen=True)
class Shutdown:
    pass


# -- engine -> HTTP process ------------------------------------------------------------------


@dataclass(frozen=True)
class Pong:
    pid: int


@dataclass(frozen=True)
class CompileCount:
    family: str
    kind: str  # "compile" or "load"
    serving: bool
    seconds: float


@dataclass(frozen=True)
class Ready:
    device: str
    warmup: dict  # WarmupReport as a dict
    compiles: list[CompileCount] = field(default_factory=list)


@dataclass(frozen=True)
class Failed:
    message: str
    exit_code: int


@dataclass(frozen=True)
class Done:
    rid: int
    tokens: list[int]
    prompt_tokens: int


@dataclass(frozen=True)
class StepReport:
    phase: str
    rows: int  # M of the step's linears
    seconds: float
    running: int
    waiting: int
    compiles: list[CompileCount] = field(default_factory=list)
