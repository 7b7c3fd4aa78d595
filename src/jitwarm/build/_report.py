"""What a build did, per kernel, per family and in total; rendered by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from jitwarm.strenum import StrEnum


class JobStatus(StrEnum):  # values are those of build's JSON report
    COMPILED = "compiled"
    PRESENT = "present"  # committed already (this or an earlier run, another shard, a root)
    FAILED = "failed"
    CANCELLED = "cancelled"  # the build was interrupted before it ran


@dataclass(frozen=True)
class JobResult:
    entry_name: str
    label: str
    family: str
    status: JobStatus
    compile_s: float = 0.0  # nvcc wall seconds (0 when nothing ran)
    reason: str = ""  # first line of nvcc's error, for failures


@dataclass
class FamilyCounts:
    kernels: int = 0
    compiled: int = 0
    present: int = 0
    failed: int = 0
    compile_s: float = 0.0


@dataclass
class BuildReport:
    """``planned`` counts the distinct entries of this shard; ``compile_s`` sums nvcc's wall
    seconds over every compile (divided by ``jobs`` it is the floor for ``wall_s``)."""

    profile: str
    distribution: str
    version: str
    arch: str
    num_sms: int
    nvcc_path: str
    nvcc_version_text: str
    cache_root: str
    plan_digest: str
    jobs: int
    executor: str
    shard: str | None
    planned: int
    wall_s: float
    results: list[JobResult] = field(default_factory=list)
    render_s: float = 0.0
    bundle: str | None = None
    notes: list[str] = field(default_factory=list)

    def count(self, status: JobStatus) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def compiled(self) -> int:
        return self.count(JobStatus.COMPILED)

    @property
    def present(self) -> int:
        return self.count(JobStatus.PRESENT)

    @property
    def failed(self) -> int:
        return self.count(JobStatus.FAILED) + self.count(JobStatus.CANCELLED)

    @property
    def compile_s(self) -> float:
        return sum(r.compile_s for r in self.results)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and len(self.results) == self.planned

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.status in (JobStatus.FAILED, JobStatus.CANCELLED)]

    @property
    def families(self) -> dict[str, FamilyCounts]:
        out: dict[str, FamilyCounts] = {}
        for r in self.results:
            c = out.setdefault(r.family, FamilyCounts())
            c.kernels += 1
            c.compile_s += r.compile_s
            if r.status == JobStatus.COMPILED:
                c.compiled += 1
            elif r.status == JobStatus.PRESENT:
                c.present += 1
            else:
                c.failed += 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "results"}
        out.update(
            compiled=self.compiled,
            present=self.present,
            failed=self.failed,
            compile_s=round(self.compile_s, 3),
            wall_s=round(self.wall_s, 3),
            ok=self.ok,
            families={k: asdict(v) for k, v in self.families.items()},
            failures=[asdict(r) for r in self.failures],
            kernels=[asdict(r) for r in self.results],
        )
        return out
