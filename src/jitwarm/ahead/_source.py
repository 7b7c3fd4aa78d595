"""The exact kernel source and nvcc command upstream-JIT DeepGEMM generates for a planned SM90 1D2D
FP8 GEMM kernel (``fp8_gemm_nt`` and the m-grouped contiguous and masked GEMMs), rendered from
the plan's predicted template arguments without importing torch or deep_gemm.

A rendering is only trusted where it is provably the library's own: the installed extension
must contain this module's source template and flag strings byte for byte (``SourceRenderer.
for_install``); any other build gets no renderer and warm compiles as before. Even a wrong
rendering could not corrupt a cache: the nvcc interposer's hand-over (``jitwarm.interposer``)
only hands DeepGEMM a cubin built from the byte-identical source with identical flags.

The template and flag strings follow DeepGEMM's `csrc/jit_kernels/impls/sm90_fp8_gemm_1d2d.hpp`
and `csrc/jit/compiler.hpp` as tokenspeed-deepgemm 2.5.0.post20260604 holds them (MIT, see
THIRD_PARTY_NOTICES.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from jitwarm.ahead._digest import deepgemm_digest

# generate_impl's format string of SM90FP8Gemm1D2DRuntime, as the upstream-JIT extension holds it
# (fmt syntax: "{}" is one argument, "{{" and "}}" are literal braces).
GEMM_1D2D_TEMPLATE = (
    "\n#include <deep_gemm/impls/sm90_fp8_gemm_1d2d.cuh>\n\nusing namespace deep_gemm;\n\n"
    "static void __instantiate_kernel() {{\n"
    "    auto ptr = reinterpret_cast<void*>(&sm90_fp8_gemm_1d2d_impl<\n"
    "        {},\n        {}, {}, {},\n        {},\n        {}, {}, {},\n        {}, {}, {},\n"
    "        {},\n        {}, {},\n        {}, {},\n        {}, {},\n        {},\n        {}\n"
    "    >);\n}};\n"
)
GEMM_1D2D_ARGS = 20
# LaunchRuntime::generate prefixes every source with the hash of the headers it includes.
INCLUDE_HASH_LINE = "// Includes' hash value: {}\n{}"
# Compiler flags: the base ones, then NVCCCompiler's (include folder, arch).
BASE_FLAGS = (
    "-std=c++{} --diag-suppress=39,161,174,177,186,940 --ptxas-options=--register-usage-level=10"
)
NVCC_FLAGS = (
    "{} -I{} --gpu-architecture=sm_{} --compiler-options=-fPIC,-O3,-fconcepts,"
    "-Wno-deprecated-declarations,-Wno-abi -O3 --expt-relaxed-constexpr --expt-extended-lambda"
)
_FINGERPRINT = (GEMM_1D2D_TEMPLATE, INCLUDE_HASH_LINE, BASE_FLAGS, NVCC_FLAGS)
_INCLUDE = re.compile(r"#\s*include\s*[<\"][^>\"]+[>\"]")
# Families whose SM90 kernels are instances of the 1D2D GEMM template.
GEMM_1D2D_FAMILIES = frozenset(
    {
        "fp8_gemm_nt",
        "m_grouped_fp8_gemm_nt_contiguous",
        "m_grouped_fp8_gemm_nt_masked",
    }
)


def fill(template: str, args: list[str] | tuple[str, ...]) -> str:
    """``fmt::format`` for templates of positional ``{}`` and doubled braces only."""
    parts = template.replace("{{", "\0L").replace("}}", "\0R").split("{}")
    if len(parts) != len(args) + 1:
        raise ValueError(f"template takes {len(parts) - 1} arguments, got {len(args)}")
    out = parts[0]
    for arg, part in zip(args, parts[1:], strict=True):
        out += str(arg) + part
    return out.replace("\0L", "{").replace("\0R", "}")


@dataclass
class IncludeHasher:
    """DeepGEMM's hash of the ``<deep_gemm/...>`` headers a source includes, recursively:
    each header's digest covers its own includes' digests and its text."""

    include_dir: Path
    _memo: dict[Path, str] = field(default_factory=dict)

    def source_hash(self, code: str) -> str:
        return deepgemm_digest(
            "".join(f"{self._file_hash(self.include_dir / i)}$" for i in _includes(code))
        )

    def _file_hash(self, path: Path) -> str:
        if path in self._memo:
            return self._memo[path]
        code = path.read_bytes().decode()
        inner = "".join(f"{self._file_hash(self.include_dir / i)}$" for i in _includes(code))
        self._memo[path] = deepgemm_digest(f"{inner}#{deepgemm_digest(code)}")
        return self._memo[path]


def _includes(code: str) -> list[str]:
    out = []
    for match in _INCLUDE.finditer(code):
        text = match.group(0)
        if text.startswith("#include <") and text.endswith(">"):
            name = text[len("#include <") : -1]
            if name.startswith("deep_gemm"):
                out.append(name)
    return out


@dataclass(frozen=True)
class RenderedKernel:
    source: str
    flags: tuple[str, ...]


class SourceRenderer:
    """Renders sources and flags for one DeepGEMM install, one arch, one nvcc."""

    def __init__(
        self,
        include_dir: Path,
        *,
        arch: str = "90a",
        cpp_standard: int = 20,
        include_hash: str | None = None,
    ) -> None:
        """``include_hash``: the GEMM template's include hash when already known (else it is
        computed from ``include_dir`` at the first render)."""
        self.include_dir = include_dir
        self._hasher = IncludeHasher(include_dir)
        self._gemm_hash = include_hash
        base = fill(BASE_FLAGS, [cpp_standard])
        self.flags = tuple(fill(NVCC_FLAGS, [base, include_dir, arch]).split())

    @classmethod
    def for_install(
        cls, package_dir: Path | None, *, nvcc_release: tuple[int, int] | None
    ) -> SourceRenderer | None:
        """A renderer for the deep_gemm in ``package_dir`` if its extension holds this module's
        templates verbatim and nvcc supports ``sm_90a`` (12.9+, as the library requires for
        the arch suffix); else None."""
        if package_dir is None or nvcc_release is None or nvcc_release < (12, 9):
            return None
        include = package_dir / "include"
        extensions = sorted(package_dir.glob("_C*.so"))
        if not include.is_dir() or not extensions:
            return None
        try:
            binary = extensions[0].read_bytes()
        except OSError:
            return None
        if not all(piece.encode() in binary for piece in _FINGERPRINT):
            return None
        return cls(include.absolute())

    def render(self, family: str, template_args: str) -> RenderedKernel | None:
        """The source DeepGEMM generates for this planned kernel, or None for a family or
        argument list this renderer does not know."""
        args = [a.strip() for a in template_args.split(",")]
        if family not in GEMM_1D2D_FAMILIES or len(args) != GEMM_1D2D_ARGS:
            return None
        code = fill(GEMM_1D2D_TEMPLATE, args)
        if self._gemm_hash is None:  # one include set per template, as the library assumes
            self._gemm_hash = self._hasher.source_hash(code)
        return RenderedKernel(fill(INCLUDE_HASH_LINE, [self._gemm_hash, code]), self.flags)
