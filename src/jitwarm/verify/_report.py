"""What a verify found: the kernels that would compile, grouped, with the M values that need
them; calls that failed for other reasons; whether the cache stayed the same. Frozen records,
built once when verify ends."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jitwarm.mset import MSet
from jitwarm.plan import PlanEntry
from jitwarm.warmer import ItemOutcome, WorkItem

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_WOULD_COMPILE = 3


@dataclass(frozen=True)
class MissingKernel:
    """One kernel missing from the cache: every planned call at ``m_values`` would compile it."""

    family: str
    entry: str  # the plan entry's key
    shape: str
    digest: str  # sha256 of the kernel source DeepGEMM generated
    kernel: str | None  # the kernel function instantiated, e.g. sm90_fp8_gemm_1d2d_impl
    template_args: str | None
    m_values: MSet

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "entry": self.entry,
            "shape": self.shape,
            "digest": self.digest,
            "kernel": self.kernel,
            "template_args": self.template_args,
            "m_values": self.m_values.to_json(),
            "num_m": len(self.m_values),
        }


@dataclass(frozen=True)
class FailedCalls:
    """Calls that raised for a reason other than a missing kernel: not verified."""

    family: str
    entry: str
    shape: str
    reason: str
    m_values: MSet

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "entry": self.entry,
            "shape": self.shape,
            "reason": self.reason,
            "m_values": self.m_values.to_json(),
            "num_m": len(self.m_values),
        }


@dataclass(frozen=True)
class CallFindings:
    """What the calls found: how many ran, which kernels they would compile, what failed."""

    calls: int = 0  # calls made
    calls_ok: int = 0  # calls whose kernels were all cached
    missing: tuple[MissingKernel, ...] = ()
    failed: tuple[FailedCalls, ...] = ()


@dataclass(frozen=True)
class VerifyReport:
    plan_digest: str
    cache_root: str
    jobs: int
    findings: CallFindings
    cache_changes: tuple[str, ...]  # what changed under the cache root while verify ran
    cache_entries: int
    wall_s: float

    @property
    def calls(self) -> int:
        return self.findings.calls

    @property
    def calls_ok(self) -> int:
        return self.findings.calls_ok

    @property
    def missing(self) -> tuple[MissingKernel, ...]:
        return self.findings.missing

    @property
    def failed(self) -> tuple[FailedCalls, ...]:
        return self.findings.failed

    @property
    def would_compile(self) -> bool:
        return bool(self.missing)

    @property
    def calls_missing(self) -> int:
        return sum(len(k.m_values) for k in self.missing)

    @property
    def exit_code(self) -> int:
        """3 when something would compile; 1 when a call could not be checked or the cache
        changed; 0 only when every planned call ran from the cache."""
        if self.missing:
            return EXIT_WOULD_COMPILE
        if self.failed or self.cache_changes:
            return EXIT_FAILED
        return EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == EXIT_OK,
            "exit_code": self.exit_code,
            "plan_digest": self.plan_digest,
            "cache_root": self.cache_root,
            "cache_entries": self.cache_entries,
            "cache_unchanged": not self.cache_changes,
            "cache_changes": list(self.cache_changes),
            "jobs": self.jobs,
            "calls": self.calls,
            "calls_ok": self.calls_ok,
            "calls_missing": self.calls_missing,
            "missing_kernels": [k.to_json() for k in self.missing],
            "failed": [f.to_json() for f in self.failed],
            "wall_s": round(self.wall_s, 3),
        }


def find_calls(
    items: Sequence[WorkItem],
    outcomes: Mapping[int, ItemOutcome],
    *,
    sources_dir: Path,
) -> CallFindings:
    """What the pool's outcomes say (every M of every item is accounted for), per plan entry
    (by its key, all a row shows of it)."""
    entries: dict[str, PlanEntry] = {}
    missing: dict[tuple[str, str], list[int]] = {}
    failed: dict[tuple[str, str], list[int]] = {}
    calls = calls_ok = 0
    for item in items:
        key = item.entry_key
        entries.setdefault(key, item.entry)
        outcome = outcomes.get(item.item_id)
        done = {c.m: c for c in outcome.calls} if outcome is not None else {}
        for m in item.ms:
            call = done.get(m)
            if call is None:
                reason = (outcome.error if outcome is not None else None) or "not run"
                failed.setdefault((key, reason), []).append(m)
                continue
            calls += 1
            if call.source_digest is not None:
                missing.setdefault((key, call.source_digest), []).append(m)
            elif call.error is not None:
                failed.setdefault((key, call.error), []).append(m)
            else:
                calls_ok += 1
    kernels = []
    for (key, digest), ms in missing.items():
        entry = entries[key]
        kernel, args = _describe(sources_dir / f"{digest}.cu")
        kernels.append(
            MissingKernel(
                family=entry.family.value,
                entry=entry.key,
                shape=entry.shape(),
                digest=digest,
                kernel=kernel,
                template_args=args,
                m_values=MSet.of(ms),
            )
        )
    failures = []
    for (key, reason), ms in failed.items():
        entry = entries[key]
        failures.append(
            FailedCalls(entry.family.value, entry.key, entry.shape(), reason, MSet.of(ms))
        )
    return CallFindings(
        calls=calls,
        calls_ok=calls_ok,
        missing=tuple(sorted(kernels, key=lambda k: (k.entry, k.m_values.min))),
        failed=tuple(sorted(failures, key=lambda f: (f.entry, f.m_values.min))),
    )


_INSTANTIATION = re.compile(r"&\s*([A-Za-z_][\w:]*)\s*<(.*)>\s*\)\s*;", re.S)


def describe_source(source: str) -> tuple[str | None, str | None]:
    """(kernel function, template arguments) of a generated DeepGEMM source, where found."""
    match = _INSTANTIATION.search(source)
    if match is None:
        return None, None
    return match.group(1), " ".join(match.group(2).split())


def _describe(path: Path) -> tuple[str | None, str | None]:
    try:
        return describe_source(path.read_text(errors="replace"))
    except OSError:
        return None, None
