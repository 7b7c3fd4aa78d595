"""One unit of a build: a rendered kernel source under its DeepJIT entry name, with the flags
its key was computed over and a guess of its compile time (longest first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BuildJob:
    """``entry_name`` is ``<tag>.<key>``: the folder DeepGEMM looks the kernel up under.

    ``flags`` are nvcc's flags as DeepJIT passes them (arch, -O, register usage, the configured
    flags): the nvcc path, input, output and ``--include-path`` are added by the compiler.
    ``meta_json`` renders ``meta.json`` for the folder the kernel is compiled in (DeepGEMM
    records that folder in the command it writes there).
    """

    entry_name: str
    source: str
    flags: tuple[str, ...]
    est_s: float
    label: str
    family: str
    meta_json: Callable[[Path], str] = field(compare=False, repr=False)

    @property
    def tag(self) -> str:
        return self.entry_name.partition(".")[0]
