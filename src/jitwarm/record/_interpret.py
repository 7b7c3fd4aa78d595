"""What one recorded call says about the kernel it needs: family, baked dimensions, argument
conventions, and the M it ran with.

Arguments are read by position and keyword with the upstream parameter names (the ones engines
pass), or the recording build's where its profile says they differ (the ``fp8_fp4_*`` indexer
calls of builds that have only those). A call this module cannot read raises
:class:`UnreadableCall` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from jitwarm.plan import (
    FAMILIES,
    METADATA_CONVENTIONS,
    TF32_HC_CONVENTIONS,
    Conventions,
    Family,
    MKind,
    spec,
)
from jitwarm.profiles import BuildProfile, IndexerApi
from jitwarm.record._manifest import RecordedCall

# Upstream parameter order of each entry point jitwarm reads (the family registry's; a profile
# may override one).
PARAMS: dict[str, tuple[str, ...]] = {f.value: s.params for f, s in FAMILIES.items() if s.params}
DEFAULT_RECIPE = (1, 128, 128)
_AB = {"float8_e4m3fn": "fp8_e4m3", "bfloat16": "bf16", "float32": "tf32"}
_FP4 = {"uint8", "int8", "float4_e2m1fn_x2"}
_SCALE = {"float32": "fp32", "int32": "ue8m0"}
_OUT = {"bfloat16": "bf16", "float32": "fp32"}
_INDEXER = dict(
    scale_recipe=None, out_dtype="fp32", compiled_dims="", gemm_type="MQALogits", kernel_type=""
)


class UnreadableCall(ValueError):
    """A recorded call whose arguments do not read as the family's (the message says why)."""


@dataclass(frozen=True)
class KernelSite:
    """The plan-entry identity a recorded call belongs to, and the M it ran with."""

    family: Family
    n: int
    k: int
    num_groups: int
    dims: dict[str, int] = field(default_factory=dict)
    conventions: Conventions = field(default_factory=Conventions)
    m_kind: MKind = MKind.ROWS
    m: int = 1

    def key(self) -> tuple:
        return (
            self.family,
            self.n,
            self.k,
            self.num_groups,
            tuple(sorted(self.dims.items())),
            self.conventions,
            self.m_kind,
        )


def bind(call: RecordedCall, profile: BuildProfile | None = None) -> dict[str, Any]:
    names = (profile and profile.indexer_api.params(call.family)) or PARAMS[call.family]
    if len(call.args) > len(names):
        raise UnreadableCall(
            f"{len(call.args)} positional arguments, {call.family} takes {len(names)}"
        )
    bound = dict(zip(names, call.args, strict=False))
    bound.update(call.kwargs)
    return bound


def _tensor(value: Any, what: str, ndim: int | tuple[int, ...]) -> dict[str, Any]:
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if not (isinstance(value, dict) and "shape" in value and "dtype" in value):
        raise UnreadableCall(f"{what} is not a tensor")
    if len(value["shape"]) not in dims:
        raise UnreadableCall(f"{what} has {len(value['shape'])} dimensions, expected {dims}")
    return value


def _pair(value: Any, what: str, ndim: int | tuple[int, ...]) -> tuple[dict, dict | None]:
    if not isinstance(value, list) or len(value) != 2:
        raise UnreadableCall(f"{what} is not a (tensor, scales) pair")
    sf = value[1] if isinstance(value[1], dict) and "shape" in value[1] else None
    return _tensor(value[0], what, ndim), sf


def _recipe(
    bound: dict[str, Any], default: tuple[int, int, int] | None = DEFAULT_RECIPE
) -> tuple[int, int, int] | None:
    r = bound.get("recipe")
    return tuple(int(x) for x in r) if isinstance(r, list) and len(r) == 3 else default  # type: ignore[return-value]


def _gemm_conventions(
    bound: dict[str, Any], a: dict, b: dict, sfa: dict | None, d: dict, gemm_type: str
) -> Conventions:
    ab = _AB.get(a["dtype"], a["dtype"])
    if b["dtype"] in _FP4:
        ab = "fp8xfp4"
    recipe = _recipe(bound)
    return Conventions(
        ab_dtype=ab,
        scale_recipe=recipe,
        scale_dtype=_SCALE.get(sfa["dtype"], sfa["dtype"]) if sfa else None,
        out_dtype=_OUT.get(d["dtype"], d["dtype"]),
        compiled_dims=str(bound.get("compiled_dims", "nk")),
        gemm_type=gemm_type,
        kernel_type="1D1D" if recipe == (1, 1, 128) else "1D2D",
    )


def interpret(call: RecordedCall, profile: BuildProfile | None = None) -> KernelSite:
    """The kernel site of one recorded call, as the build it was recorded with (``profile``;
    None: upstream conventions) reads its arguments; raises :class:`UnreadableCall`."""
    if call.family not in PARAMS:
        raise UnreadableCall(f"jitwarm does not plan {call.family}")
    bound = bind(call, profile)
    fp4_only = profile is not None and profile.indexer_api is IndexerApi.FP8_FP4_ONLY
    if fp4_only and call.family in _FP4_ONLY_READERS:
        # Only fp8_fp4_* exist here: q without scales is the FP8 indexer.
        site = _FP4_ONLY_READERS[call.family](bound)
    else:
        site = _READERS[call.family](bound)
    # What the M read counts (rows, total rows, expected_m, batch) is the family's.
    return replace(site, m_kind=spec(site.family).m_kind)


def _fp8_gemm_nt(bound: dict[str, Any]) -> KernelSite:
    a, sfa = _pair(bound.get("a"), "a", 2)
    b, _ = _pair(bound.get("b"), "b", 2)
    d = _tensor(bound.get("d"), "d", 2)
    m, k = a["shape"]
    n = b["shape"][0]
    conv = _gemm_conventions(bound, a, b, sfa, d, "Normal")
    return KernelSite(Family.FP8_GEMM_NT, n, k, 1, conventions=conv, m=m)


def _contiguous(bound: dict[str, Any]) -> KernelSite:
    a, sfa = _pair(bound.get("a"), "a", 2)
    b, _ = _pair(bound.get("b"), "b", 3)
    d = _tensor(bound.get("d"), "d", 2)
    g, n, _k = b["shape"]
    conv = _gemm_conventions(bound, a, b, sfa, d, "MGroupedContiguous")
    return KernelSite(
        Family.M_GROUPED_CONTIGUOUS,
        n,
        a["shape"][1],
        g,
        conventions=conv,
        m=a["shape"][0],
    )


def _masked(bound: dict[str, Any]) -> KernelSite:
    a, sfa = _pair(bound.get("a"), "a", 3)
    b, _ = _pair(bound.get("b"), "b", 3)
    d = _tensor(bound.get("d"), "d", 3)
    expected = bound.get("expected_m")
    if not isinstance(expected, int) or expected < 1:
        raise UnreadableCall("expected_m is not a positive integer")
    g, n, _k = b["shape"]
    conv = _gemm_conventions(bound, a, b, sfa, d, "MGroupedMasked")
    return KernelSite(
        Family.M_GROUPED_MASKED,
        n,
        a["shape"][2],
        g,
        conventions=conv,
        m=expected,
    )


def _einsum(bound: dict[str, Any]) -> KernelSite:
    if bound.get("expr") != "bhr,hdr->bhd":
        raise UnreadableCall(f"einsum {bound.get('expr')!r} is not the planned bhr,hdr->bhd")
    a, sfa = _pair(bound.get("a"), "a", 3)
    b, _ = _pair(bound.get("b"), "b", 3)
    d = _tensor(bound.get("d"), "d", 3)
    batch, h, r = a["shape"]
    conv = _gemm_conventions(bound, a, b, sfa, d, "Batched")
    return KernelSite(Family.FP8_EINSUM, b["shape"][1], r, h, conventions=conv, m=batch)


def _hc_prenorm(bound: dict[str, Any]) -> KernelSite:
    a = _tensor(bound.get("a"), "a", 2)
    b = _tensor(bound.get("b"), "b", 2)
    splits = bound.get("num_splits")
    dims = {"num_splits": int(splits)} if isinstance(splits, int) else {}
    conv = TF32_HC_CONVENTIONS
    return KernelSite(
        Family.TF32_HC_PRENORM, b["shape"][0], a["shape"][1], 1, dims, conv, m=a["shape"][0]
    )


def _q_has_scales(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict)


def _q_tensor(value: Any, ndim: int) -> dict[str, Any]:
    """fp8_fp4 logits take q as (values, scales); the FP8 ones take a tensor."""
    if isinstance(value, list):
        value = value[0] if value else None
    return _tensor(value, "q", ndim)


def _mqa(fp4: bool) -> Any:
    def read(bound: dict[str, Any]) -> KernelSite:
        q = _q_tensor(bound.get("q"), 3)
        seq, heads, head_dim = q["shape"]
        conv = Conventions(
            ab_dtype="fp8xfp4" if fp4 else "fp8_e4m3",
            scale_dtype="ue8m0" if fp4 else "fp32",
            **_INDEXER,
        )
        family = Family.FP4_MQA_LOGITS if fp4 else Family.MQA_LOGITS
        return KernelSite(family, 0, 0, 1, {"heads": heads, "head_dim": head_dim}, conv, m=seq)

    return read


def _paged(fp4: bool) -> Any:
    def read(bound: dict[str, Any]) -> KernelSite:
        q = _q_tensor(bound.get("q"), 4)
        batch, next_n, heads, head_dim = q["shape"]
        cache = _tensor(bound.get("fused_kv_cache"), "fused_kv_cache", (3, 4))
        conv = Conventions(
            ab_dtype="fp8xfp4" if fp4 else "fp8_e4m3",
            scale_dtype="ue8m0" if fp4 else "fp32",
            **_INDEXER,
        )
        family = Family.FP4_PAGED_MQA_LOGITS if fp4 else Family.PAGED_MQA_LOGITS
        dims = {
            "heads": heads,
            "head_dim": head_dim,
            "block_kv": cache["shape"][1],
            "next_n": next_n,
        }
        return KernelSite(family, 0, 0, 1, dims, conv, m=batch)

    return read


def _metadata(bound: dict[str, Any]) -> KernelSite:
    lens = _tensor(bound.get("context_lens"), "context_lens", (1, 2))
    block_kv = bound.get("block_kv")
    if not isinstance(block_kv, int):
        raise UnreadableCall("block_kv is not an integer")
    conv = METADATA_CONVENTIONS
    return KernelSite(
        Family.PAGED_MQA_METADATA,
        0,
        0,
        1,
        {"block_kv": block_kv},
        conv,
        m=lens["shape"][0],
    )


_READERS = {
    "fp8_gemm_nt": _fp8_gemm_nt,
    "m_grouped_fp8_gemm_nt_contiguous": _contiguous,
    "m_grouped_fp8_gemm_nt_masked": _masked,
    "fp8_einsum": _einsum,
    "tf32_hc_prenorm_gemm": _hc_prenorm,
    "fp8_mqa_logits": _mqa(fp4=False),
    "fp8_fp4_mqa_logits": _mqa(fp4=True),
    "fp8_paged_mqa_logits": _paged(fp4=False),
    "fp8_fp4_paged_mqa_logits": _paged(fp4=True),
    "get_paged_mqa_logits_metadata": _metadata,
}
_FP4_ONLY_READERS = {
    "fp8_fp4_mqa_logits": lambda b: _mqa(fp4=_q_has_scales(b.get("q")))(b),
    "fp8_fp4_paged_mqa_logits": lambda b: _paged(fp4=_q_has_scales(b.get("q")))(b),
}
