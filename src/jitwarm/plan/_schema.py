"""The plan: every kernel a server can reach. The spine all other parts read.

JSON form (``schema_version`` 2), documented in docs/plan-schema.md and exported as JSON Schema
by ``jitwarm plan --schema``:

- top level: ``schema_version``, ``jitwarm_version``, ``build`` (the DeepGEMM build profile the
  plan was made for, or null), ``arch``, ``num_sms``, ``model``, ``serving``, ``jit_env``,
  ``entries``. Version 1 plans (no ``build``) still load, as made for an unknown build;
- each entry: ``family``, ``n``, ``k``, ``num_groups`` (1 when not grouped), ``dims`` (other
  baked dimensions), ``conventions`` (argument conventions that change the generated kernel),
  ``m_kind`` (what M means for this family), ``m_values`` (sorted reachable M as inclusive
  ``[lo, hi]`` ranges), ``selection`` (how distinct kernels were found), ``kernels`` (one object
  per distinct kernel with its representative ``m``; null for ``sweep`` entries), ``modules``
  (the layers it serves).
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from jitwarm.errors import ManifestError
from jitwarm.mset import MSet
from jitwarm.serving import MAX_NUM_SMS, Arch, ServingConfig
from jitwarm.strenum import StrEnum

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: the same plan without `build`

# Bounds a manifest is checked against on load, so a hand-edited or hostile plan is one line,
# not hours of work or an exhausted memory. No real server comes near them.
MAX_M = 1 << 24  # the largest M (the contiguous layout's rows are the largest M planned)
MAX_DIM = 1 << 24  # N, K, groups and other baked sizes
MAX_PLAN_M_VALUES = 1 << 25  # reachable M values summed over a plan's entries (verify runs each)
ARCHS = tuple(a.value for a in Arch)


def _check_ranges(ranges: list[list[int]], *, lo_min: int, hi_max: int) -> list[list[int]]:
    for pair in ranges:
        if len(pair) != 2:
            raise ValueError(f"each range is [lo, hi], got {pair}")
        lo, hi = pair
        if not lo_min <= lo <= hi <= hi_max:
            raise ValueError(f"range {pair} must satisfy {lo_min} <= lo <= hi <= {hi_max:,}")
    return ranges


class Family(StrEnum):
    """DeepGEMM entry points that JIT-compile, named as the library names them."""

    FP8_GEMM_NT = "fp8_gemm_nt"
    M_GROUPED_CONTIGUOUS = "m_grouped_fp8_gemm_nt_contiguous"
    M_GROUPED_MASKED = "m_grouped_fp8_gemm_nt_masked"
    FP8_EINSUM = "fp8_einsum"
    TF32_HC_PRENORM = "tf32_hc_prenorm_gemm"
    MQA_LOGITS = "fp8_mqa_logits"
    PAGED_MQA_LOGITS = "fp8_paged_mqa_logits"
    FP4_MQA_LOGITS = "fp8_fp4_mqa_logits"
    FP4_PAGED_MQA_LOGITS = "fp8_fp4_paged_mqa_logits"
    PAGED_MQA_METADATA = "get_paged_mqa_logits_metadata"
    MEGA_MOE = "fp8_fp4_mega_moe"


class Selection(str, Enum):
    """How an entry's distinct kernels were derived from its M values."""

    EXACT = "exact"  # a selection model checked against measured ground truth
    BUCKETS = "buckets"  # M is baked in after rounding (metadata: align(batch, 32))
    INVARIANT = "invariant"  # M is a runtime value and does not move the kernel choice
    SWEEP = "sweep"  # no model: every M must be run


class MKind(str, Enum):
    """What the M of an entry counts."""

    ROWS = "rows"  # activation rows (tokens) of a GEMM
    TOTAL_ROWS = "total_rows"  # rows of the contiguous grouped layout, padded per expert
    EXPECTED_M = "expected_m"  # masked grouped GEMM's expected rows per expert
    BATCH = "batch"  # decode batch (sequences x rows per sequence)
    TOKENS = "tokens"  # tokens per call (mega-MoE)


def _stored_serving(raw: dict[str, Any]) -> ServingConfig:
    """The serving config a plan records, read leniently: the plan's entries, not its serving
    config, decide the kernels, and plans written before a limit was tightened (a smaller
    ``mk_alignment``, a larger ``tp``) must keep loading. Values today's checks reject are kept
    as stored (their types coerced where they can be); keys ServingConfig does not know are
    dropped (no jitwarm ever wrote one)."""
    try:
        return ServingConfig.model_validate(raw)
    except ValidationError:
        pass
    values: dict[str, Any] = {}
    for name, field in ServingConfig.model_fields.items():
        if name not in raw:
            continue
        try:
            values[name] = TypeAdapter(field.annotation).validate_python(raw[name])
        except ValidationError:
            values[name] = raw[name]
    return ServingConfig.model_construct(**values)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Conventions(_Frozen):
    """Argument conventions that are part of the generated kernel."""

    ab_dtype: str = "fp8_e4m3"  # A/B element type ("fp8_e4m3", "fp8xfp4", "tf32", "bf16")
    scale_recipe: tuple[int, int, int] | None = (1, 128, 128)  # (A rows, B rows, K) per scale
    scale_dtype: str | None = "fp32"  # "fp32" on sm90, "ue8m0" (packed int32) on sm100
    out_dtype: str = "bf16"
    compiled_dims: str = "nk"
    gemm_type: str = "Normal"
    kernel_type: str = "1D2D"


# Conventions of the families that are not block-scaled FP8 GEMMs.
TF32_HC_CONVENTIONS = Conventions(
    ab_dtype="tf32",
    scale_recipe=None,
    scale_dtype=None,
    out_dtype="fp32",
    compiled_dims="nk",
    gemm_type="HCPrenorm",
    kernel_type="",
)
METADATA_CONVENTIONS = Conventions(
    ab_dtype="int32",
    scale_recipe=None,
    scale_dtype=None,
    out_dtype="int32",
    compiled_dims="",
    gemm_type="",
    kernel_type="",
)


class Module(_Frozen):
    """Where an entry is used: a module path inside a layer and the layers that have it."""

    name: str
    layers: list[list[int]]  # inclusive ranges of layer indices

    @field_validator("layers")
    @classmethod
    def _layers(cls, v: list[list[int]]) -> list[list[int]]:
        return _check_ranges(v, lo_min=0, hi_max=MAX_DIM)


class PlanKernel(_Frozen):
    """One distinct kernel: its representative M, the M values that use it, its parameters."""

    m: int = Field(ge=1, le=MAX_M)
    m_ranges: list[list[int]]
    params: dict[str, Any] = {}
    template_args: str | None = None  # predicted template arguments of the generated source

    @field_validator("m_ranges")
    @classmethod
    def _m_ranges(cls, v: list[list[int]]) -> list[list[int]]:
        return _check_ranges(v, lo_min=1, hi_max=MAX_M)


class PlanEntry(_Frozen):
    family: Family
    n: int = Field(ge=0, le=MAX_DIM)  # 0 where the family has no N (metadata)
    k: int = Field(ge=0, le=MAX_DIM)
    num_groups: int = Field(1, ge=1, le=MAX_DIM)
    dims: dict[str, int] = {}
    conventions: Conventions = Conventions()
    phases: list[str]
    m_kind: MKind = MKind.ROWS
    m_values: list[list[int]]
    selection: Selection
    kernels: list[PlanKernel] | None
    modules: list[Module]

    @field_validator("dims")
    @classmethod
    def _dims(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {name: x for name, x in v.items() if not 0 <= x <= MAX_DIM}
        if bad:
            raise ValueError(f"dims {bad} lie outside 0..{MAX_DIM:,}")
        return v

    @field_validator("m_values")
    @classmethod
    def _m_values(cls, v: list[list[int]]) -> list[list[int]]:
        if not v:
            raise ValueError("an entry needs at least one M value")
        return _check_ranges(v, lo_min=1, hi_max=MAX_M)

    @property
    def mset(self) -> MSet:
        return MSet.from_ranges(self.m_values)

    @property
    def key(self) -> str:
        """Stable, human-readable identity of the entry."""
        dims = "".join(f"-{k}{v}" for k, v in sorted(self.dims.items()))
        conv = self.conventions
        return (
            f"{self.family.value}/n{self.n}-k{self.k}-g{self.num_groups}{dims}"
            f"/{conv.ab_dtype}-{conv.out_dtype}-{conv.compiled_dims or 'none'}"
        )

    @property
    def num_calls(self) -> int:
        """Calls warm makes: one per distinct kernel, or every M of a sweep entry."""
        return len(self.kernels) if self.kernels is not None else len(self.mset)

    def shape(self) -> str:
        parts = [f"N={self.n}", f"K={self.k}"] if self.n or self.k else []
        if self.num_groups != 1:
            parts.append(f"G={self.num_groups}")
        parts += [f"{k}={v}" for k, v in sorted(self.dims.items())]
        return " ".join(parts)


class ModelRef(_Frozen):
    name: str
    architecture: str
    source: str


class Plan(_Frozen):
    schema_version: int = SCHEMA_VERSION
    jitwarm_version: str
    # Profile id of the DeepGEMM build the plan was made for (jitwarm.profiles); None: made for
    # no particular build (no DeepGEMM where it was planned, or a version 1 plan).
    build: str | None = None
    arch: Arch
    num_sms: int = Field(ge=1, le=MAX_NUM_SMS)
    model: ModelRef
    serving: ServingConfig
    jit_env: dict[str, str] = Field(default_factory=dict)  # DG_* settings kernels are built with
    notes: list[str] = Field(default_factory=list)  # what was inferred or deliberately left out
    entries: list[PlanEntry]

    @field_validator("arch", mode="before")
    @classmethod
    def _arch(cls, v: Any) -> Any:
        if v not in ARCHS:  # one message naming the archs, not pydantic's enum error
            raise ValueError(f"arch {v!r} is not one jitwarm plans ({', '.join(ARCHS)})")
        return v

    @field_validator("serving", mode="wrap")
    @classmethod
    def _serving(cls, v: Any, handler: ValidatorFunctionWrapHandler) -> ServingConfig:
        # Returned without `handler`: ServingConfig's own checks would reject what
        # _stored_serving deliberately keeps.
        return _stored_serving(v) if isinstance(v, dict) else handler(v)

    @model_validator(mode="after")
    def _bounded(self) -> Plan:
        total = sum(len(e.mset) for e in self.entries)
        if total > MAX_PLAN_M_VALUES:
            raise ValueError(
                f"the entries hold {total:,} M values, above the {MAX_PLAN_M_VALUES:,} a plan "
                "may hold (verify runs every one)"
            )
        return self

    # -- totals -----------------------------------------------------------------------------
    @property
    def num_kernels(self) -> int:
        """Distinct kernels known from selection models (sweep entries not counted)."""
        return sum(len(e.kernels) for e in self.entries if e.kernels is not None)

    @property
    def num_calls(self) -> int:
        return sum(e.num_calls for e in self.entries)

    @property
    def sweep_entries(self) -> list[PlanEntry]:
        return [e for e in self.entries if e.selection is Selection.SWEEP]

    def without_selection_model(self) -> Plan:
        """The same plan with every model-predicted (``exact``) entry turned into a sweep: for a
        DeepGEMM build whose selection model is not validated, warm then captures the sources
        the library really generates for every M and compiles each distinct one once."""
        entries = [
            e.model_copy(update={"selection": Selection.SWEEP, "kernels": None})
            if e.selection is Selection.EXACT
            else e
            for e in self.entries
        ]
        return self.model_copy(update={"entries": entries})

    def digest(self) -> str:
        """sha256 of what decides the kernels (arch, SMs, settings, entries), not of metadata."""
        body: dict[str, Any] = {
            "arch": Arch(self.arch).value,  # Arch(): model_copy(update=) may have set a str
            "num_sms": self.num_sms,
            "jit_env": self.jit_env,
            "entries": [e.model_dump(mode="json", exclude={"modules"}) for e in self.entries],
        }
        if self.build is not None:  # plans that name no build keep their version 1 digest
            body["build"] = self.build
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    # -- (de)serialization --------------------------------------------------------------------
    def to_json(self, *, indent: int | None = 1) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str, *, source: str = "plan") -> Plan:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"{source}: not valid JSON (line {exc.lineno}: {exc.msg})"
            ) from None
        except RecursionError:
            raise ManifestError(f"{source}: JSON nested too deeply to be a plan") from None
        if not isinstance(raw, dict):
            raise ManifestError(f"{source}: expected a JSON object")
        version = raw.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ManifestError(
                f"{source}: schema_version {version!r} is not supported (this jitwarm reads "
                f"{', '.join(map(str, READABLE_VERSIONS))})"
            )
        if version == 1:
            if "build" in raw:
                raise ManifestError(f"{source}: a version 1 plan has no 'build' field")
            raw = {**raw, "schema_version": SCHEMA_VERSION, "build": None}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            at = f" at '{where}'" if where else ""
            raise ManifestError(f"{source}: invalid plan{at}: {msg}") from None

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        p = Path(path)
        try:
            text = p.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{p}: cannot read plan: {exc}") from None
        return cls.from_json(text, source=str(p))
