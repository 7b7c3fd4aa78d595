"""What kernel a cache entry holds: its name (from the folder), template arguments and family
(from ``kernel.cu``).

DeepGEMM renders every kernel source the same way (``generate_impl`` in
csrc/jit_kernels/impls/*.hpp)::

    // Includes' hash value: <hash>
    #include <deep_gemm/impls/sm90_fp8_gemm_1d2d.cuh>
    ...
    auto ptr = reinterpret_cast<void*>(&sm90_fp8_gemm_1d2d_impl<
        cute::UMMA::Major::K,
        0, 4096, 7168,
        ...
    >);

The template arguments, split at top-level commas, stripped and joined with ``", "``, are the
``template_args`` strings of the measured ground truth and of ``PlanKernel.template_args``.
"""

from __future__ import annotations

import re

from jitwarm.dgenv import Layout
from jitwarm.plan import GEMM_KERNEL_NAMES, Family, family_of_kernel_name, gemm_family_of_type

_INSTANTIATION = re.compile(
    r"reinterpret_cast\s*<\s*void\s*\*\s*>\s*\(\s*&\s*([A-Za-z_][\w:]*)\s*<"
)
_GEMM_TYPE = re.compile(r"\bGemmType::(\w+)\b")


def parse_entry_name(name: str) -> tuple[Layout, str, str] | None:
    """``(layout guess, kernel name, key)`` from a cache folder name, or None if it is neither
    ``kernel.<name>.<hash>`` (upstream JIT) nor ``<tag>.<key>`` (DeepJIT)."""
    if name.startswith("kernel.") and name.count(".") >= 2:
        kernel, _, key = name[len("kernel.") :].rpartition(".")
        layout = Layout.UPSTREAM
    else:
        kernel, _, key = name.rpartition(".")
        layout = Layout.DEEPJIT
    # Keys are hex digests in both layouts: "notes.txt" is a stray file, not kernel "notes".
    if not kernel or not re.fullmatch(r"\w+", kernel) or not re.fullmatch(r"[0-9a-f]+", key):
        return None
    return layout, kernel, key


def parse_template_args(source: str) -> str | None:
    """The kernel's template-argument list as in the ground truth (``"a, b, c"``), or None."""
    match = _INSTANTIATION.search(source)
    if match is None:
        return None
    depth = 1
    for i in range(match.end(), len(source)):
        ch = source[i]
        if ch in "<([{":
            depth += 1
        elif ch in ">)]}":
            depth -= 1
            if depth == 0:
                args = [" ".join(a.split()) for a in _split_top_level(source[match.end() : i])]
                if args == [""]:
                    return ""
                return ", ".join(args) if all(args) else None
    return None  # unbalanced: a truncated source


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<([{":
            depth += 1
        elif ch in ">)]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[current:i])
            current = i + 1
    parts.append(text[current:])
    return parts


def family_of(kernel_name: str, template_args: str | None) -> Family | None:
    """The plan family an entry belongs to, or None (a helper or a family jitwarm does not plan).
    Which name is which family is the family registry's (``jitwarm.plan._families``)."""
    family = family_of_kernel_name(kernel_name)
    if family is not None:
        return family
    if kernel_name in GEMM_KERNEL_NAMES and template_args is not None:
        match = _GEMM_TYPE.search(template_args)  # names shared by the GEMMs: the type decides
        if match:
            return gemm_family_of_type(match.group(1))
    return None


def split_args(template_args: str) -> list[str]:
    """The arguments of a normalized template-argument string."""
    return [a.strip() for a in _split_top_level(template_args)] if template_args else []


def int_args(template_args: str | None) -> set[int]:
    """The integer literals among the template arguments."""
    if not template_args:
        return set()
    return {int(a) for a in split_args(template_args) if re.fullmatch(r"-?\d+", a)}
