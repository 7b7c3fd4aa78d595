"""The serving configuration: everything besides the model that decides which kernels run."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jitwarm.errors import ConfigError
from jitwarm.strenum import StrEnum

DEFAULT_NUM_SMS = {"sm90": 132, "sm100": 148}

# Limits no real server reaches. They keep planning bounded (reachable M sets are planned
# value by value where they are sparse) and turn a typo into an error naming the limit.
MAX_PARALLEL = 1024  # tp, ep, attn_dp
MAX_BATCHED_TOKENS = 1 << 20  # chunked-prefill budget per step
MAX_RUNNING_SEQS = 1 << 14  # sequences decoding at once
MAX_DRAFT_TOKENS = 15  # speculative draft tokens per step
MAX_NUM_SMS = 256  # no sm90 or sm100 GPU has more
# KV block sizes DeepGEMM's paged MQA logits take (deep_gemm/csrc/apis/attention.hpp of the
# profiled DeepJIT builds: 64 on sm90; 32, 64 or 128 on sm100).
INDEXER_BLOCK_SIZES = {"sm90": (64,), "sm100": (32, 64, 128)}


class Arch(StrEnum):
    SM90 = "sm90"
    SM100 = "sm100"


class MoEPath(str, Enum):
    """How routed experts run.

    ``grouped``: m-grouped contiguous GEMMs for prefill and m-grouped masked GEMMs for decode
    (DeepEP normal / low-latency). ``mega``: the fused mega-MoE kernel for every step.
    """

    GROUPED = "grouped"
    MEGA = "mega"


class Role(str, Enum):
    """Which steps this server runs: both (``mixed``), or one side of a disaggregated pair."""

    MIXED = "mixed"
    PREFILL = "prefill"
    DECODE = "decode"


class ServingConfig(BaseModel):
    """Parallelism, batching and target GPU of one server (one rank's view is derived)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    tp: int = Field(1, ge=1, le=MAX_PARALLEL, description="tensor-parallel size")
    ep: int = Field(
        1, ge=1, le=MAX_PARALLEL, description="expert-parallel size (1: experts are TP-sharded)"
    )
    attn_dp: int = Field(
        1, ge=1, le=MAX_PARALLEL, description="attention data-parallel size (divides tp)"
    )
    max_batched_tokens: int = Field(
        8192, ge=1, le=MAX_BATCHED_TOKENS, description="chunked-prefill budget per step"
    )
    max_running_seqs: int = Field(
        256, ge=1, le=MAX_RUNNING_SEQS, description="max sequences decoding at once"
    )
    cuda_graph_batch_sizes: tuple[int, ...] | None = Field(
        None, description="decode batch sizes captured in CUDA graphs (None: every size)"
    )
    spec_draft_tokens: int = Field(
        0, ge=0, le=MAX_DRAFT_TOKENS, description="speculative draft tokens per step"
    )
    moe_path: MoEPath = MoEPath.GROUPED
    role: Role = Role.MIXED
    indexer_block_size: int = Field(64, ge=1, description="KV block size of the paged indexer")
    arch: Arch = Arch.SM90
    num_sms: int | None = Field(
        None, ge=1, le=MAX_NUM_SMS, description="SM count kernels are built for"
    )
    mk_alignment: int = Field(
        128, ge=16, le=256, description="m-grouped contiguous layout alignment (a power of two)"
    )

    @model_validator(mode="after")
    def _check(self) -> ServingConfig:
        if self.mk_alignment & (self.mk_alignment - 1):
            raise ValueError(f"mk_alignment must be a power of two, got {self.mk_alignment}")
        sizes = INDEXER_BLOCK_SIZES[self.arch.value]
        if self.indexer_block_size not in sizes:
            raise ValueError(
                f"indexer_block_size {self.indexer_block_size} is not one DeepGEMM's paged "
                f"indexer takes on {self.arch.value} ({', '.join(map(str, sizes))})"
            )
        if self.tp % self.attn_dp:
            raise ValueError(f"attn_dp ({self.attn_dp}) must divide tp ({self.tp})")
        if self.tp % self.ep:
            raise ValueError(f"ep ({self.ep}) must divide tp ({self.tp})")
        if self.cuda_graph_batch_sizes is not None:
            bad = [b for b in self.cuda_graph_batch_sizes if not 1 <= b <= self.max_running_seqs]
            if bad:
                raise ValueError(
                    f"cuda_graph_batch_sizes {bad} lie outside 1..max_running_seqs "
                    f"({self.max_running_seqs})"
                )
            if not self.cuda_graph_batch_sizes:
                raise ValueError("cuda_graph_batch_sizes is empty")
        return self

    @classmethod
    def build(cls, **values: object) -> ServingConfig:
        """Construct, turning validation failures into one-line :class:`ConfigError`s."""
        try:
            return cls(**{k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "less_than_equal":
                msg += " (no real server goes above this limit)"
            raise ConfigError(
                f"serving: {where + ': ' if where else ''}{msg}", field=where or None
            ) from None

    # -- derived values -----------------------------------------------------------------------
    @property
    def sms(self) -> int:
        return self.num_sms if self.num_sms is not None else DEFAULT_NUM_SMS[self.arch.value]

    @property
    def attn_tp(self) -> int:
        """TP size inside one attention data-parallel group."""
        return self.tp // self.attn_dp

    @property
    def moe_tp(self) -> int:
        """How many ways each expert's weights are split."""
        return self.tp // self.ep

    @property
    def verify_rows(self) -> int:
        """Rows per sequence in a decode (or verify) step."""
        return self.spec_draft_tokens + 1
