"""Does a plan need a cache entry? The one rule, in one place.

For an entry of family F with template arguments A:

1. Exact: if a plan entry of family F predicts template arguments for its kernels (exactly
   modelled SM90 GEMMs), the entry is needed when A names the same kernel as one of them.
   For SM90 1D2D GEMMs "the same kernel" is the same build-independent identity
   (``Sm90GemmArgs.canonical``): the 19 arguments every build renders, plus an epilogue or a
   scale granularity only where it is not the identity / 128. So a plan's predictions match
   every build's rendering (20, 19 or 21 arguments: the profiles' ``sm90_gemm_args``). Any
   other kernel: character for character (after whitespace
   normalization, see ``parse_template_args``).
2. Baked dims: for a plan entry of family F without predictions (sweep, invariant and bucket
   selections), the entry is needed when the values the plan entry bakes into the source are
   in A. For the SM90 kernels whose argument order is known (the family registry's ``CacheKernel.positions``: mHC prenorm N and
   K, MQA-logits heads and head_dim, paged MQA-logits next_n, heads, head_dim and block_kv,
   metadata aligned-batch bucket) each value must sit at its position. For other kernels each
   value must appear somewhere among A's integers: N and K (as ``compiled_dims`` bakes them)
   and the group count for GEMMs, N and K for mHC, the ``dims`` values otherwise (none for the
   metadata kernel, whose block_kv never reaches the source). This rule is loose on purpose:
   it may keep an entry a plan could do without; it never drops one whose baked values match.
3. Helpers: the scale-factor layout kernels (``transpose_fp32`` and the ue8m0 packers) have no
   family; one is needed when its ``sf_k`` (ceil(K/128)) equals that of a plan entry with an
   FP8 scale recipe.
4. Built by some calls only: a kernel a family's call builds only under a flag (the registry's
   ``CacheKernel.built_when``: ``smxx_clean_logits`` for cleaned prefill logits) is needed only
   when one of the plan entry's kernels records that flag true, then by rules 1 and 2.
5. Anything else (an unknown kernel name or a family the plan does not contain) is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jitwarm.cache._identity import int_args, split_args
from jitwarm.plan import (
    HELPER_KERNELS,
    Family,
    Plan,
    PlanEntry,
    kernel_built_when,
    kernel_positions,
    spec,
)
from jitwarm.profiles import Sm90GemmArgs


def kernel_identity(template_args: str) -> tuple[str, ...] | str:
    """What two renderings of one kernel share: the canonical SM90 1D2D GEMM identity, else
    the normalized argument string itself."""
    canonical = Sm90GemmArgs.canonical(split_args(template_args))
    return canonical if canonical is not None else template_args


@dataclass(frozen=True)
class _Baked:
    """What one plan entry (or one of its kernels) bakes into its source."""

    values: tuple[tuple[str, int], ...]  # named values, for kernels with known positions
    literal: frozenset[int]  # values that must appear somewhere, for the others

    def matches(self, kernel_name: str, args: list[str]) -> bool:
        positions = kernel_positions(kernel_name)
        if positions is None:
            return self.literal <= int_args(", ".join(args))
        return all(
            pos < len(args) and args[pos] == str(value)
            for name, value in self.values
            if (pos := positions.get(name)) is not None
        )


def _baked(entry: PlanEntry) -> list[_Baked]:
    """Alternatives for one plan entry; a cache entry matches if it matches any one."""
    dims = {k: v for k, v in entry.dims.items() if isinstance(v, int)}
    values = {"n": entry.n, "k": entry.k, "num_groups": entry.num_groups, **dims}
    if spec(entry.family).is_gemm:
        axes = entry.conventions.compiled_dims
        literal = {v for axis, v in (("n", entry.n), ("k", entry.k)) if axis in axes and v > 0}
        if entry.num_groups > 1:
            literal.add(entry.num_groups)
    elif entry.family is Family.TF32_HC_PRENORM:
        literal = {v for v in (entry.n, entry.k) if v > 0}
    elif entry.family is Family.PAGED_MQA_METADATA:
        # block_kv never reaches the source; sm90 bakes the aligned batch bucket (position 0).
        buckets = [kn.params.get("aligned_batch") for kn in entry.kernels or []]
        return [
            _Baked(tuple({**values, "aligned_batch": b}.items()), frozenset())
            for b in buckets
            if isinstance(b, int)
        ] or [_Baked(tuple(values.items()), frozenset())]
    else:
        literal = set(dims.values())
    return [_Baked(tuple(values.items()), frozenset(literal))]


@dataclass(frozen=True)
class PlanIndex:
    """A plan, indexed for :meth:`needs`."""

    exact: dict[Family, frozenset[tuple[str, ...] | str]] = field(default_factory=dict)
    baked: dict[Family, tuple[_Baked, ...]] = field(default_factory=dict)
    helper_sf_k: frozenset[int] = frozenset()
    # The flags some planned kernel of each family records true (for rule 4).
    flags_true: dict[Family, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_plan(cls, plan: Plan) -> PlanIndex:
        exact: dict[Family, set[tuple[str, ...] | str]] = {}
        baked: dict[Family, list[_Baked]] = {}
        sf_k: set[int] = set()
        flags: dict[Family, set[str]] = {}
        for e in plan.entries:
            for kn in e.kernels or []:
                flags.setdefault(e.family, set()).update(
                    k for k, v in kn.params.items() if v is True
                )
            predicted = [kn.template_args for kn in e.kernels or [] if kn.template_args]
            if predicted:
                exact.setdefault(e.family, set()).update(map(kernel_identity, predicted))
            else:
                baked.setdefault(e.family, []).extend(_baked(e))
            if e.conventions.scale_recipe is not None and e.k > 0:
                sf_k.add(-(-e.k // e.conventions.scale_recipe[2]))
        return cls(
            {f: frozenset(v) for f, v in exact.items()},
            {f: tuple(v) for f, v in baked.items()},
            frozenset(sf_k),
            {f: frozenset(v) for f, v in flags.items()},
        )

    def needs(self, family: Family | None, kernel_name: str, template_args: str | None) -> bool:
        """True when the plan needs the kernel with this identity (see the module rules)."""
        if family is None:
            if kernel_name in HELPER_KERNELS and template_args is not None:
                return bool(int_args(template_args) & self.helper_sf_k)
            return False
        if template_args is None:
            return False
        when = kernel_built_when(kernel_name)
        if when is not None and when not in self.flags_true.get(family, ()):
            return False
        if kernel_identity(template_args) in self.exact.get(family, ()):
            return True
        args = split_args(template_args)
        return any(b.matches(kernel_name, args) for b in self.baked.get(family, ()))
