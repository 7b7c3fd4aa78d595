"""The oracle: DeepGEMM's own heuristic headers from a pinned wheel, compiled with g++ on a CPU.

`build_oracle(version)` copies the wheel's ``csrc/jit_kernels/heuristics/`` and
``csrc/utils/math.hpp`` unchanged into a cache folder, lays the stubs of ``tests/oracle/stubs``
over them, cuts ``get_block_config_for_mega_moe`` (and the candidate block sizes it asserts
against) out of the wheel's mega-MoE headers, and compiles ``tests/oracle/driver.cpp`` against
all of it. `Oracle.ask` sends many queries to one process (one line each, see driver.cpp).
Tests call `oracle_for(version)`, which skips with the reason when g++ or the wheel is missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from filelock import FileLock

from _wheels import PINNED, unpacked_wheel, wheel_dir

ORACLE_SRC = Path(__file__).parent / "oracle"
_MEGA_START = "static MmaKind parse_mma_kind"
_MEGA_END = "static std::pair<int, int> get_pipeline_config_for_mega_moe"
_CANDIDATES = re.compile(r"^\s*static constexpr int k(Num)?CandidateBlockMs?\b.*;\s*$", re.M)


class OracleUnavailable(Exception):
    """g++ or the wheel is missing, or the headers did not compile."""


def _mega_block_header(wheel: Path) -> str:
    """The library's mega-MoE block choice, cut verbatim out of its headers."""
    text = (wheel / "deep_gemm/csrc/jit_kernels/heuristics/mega_moe.hpp").read_text()
    start, end = text.index(_MEGA_START), text.index(_MEGA_END)
    layout = (wheel / "deep_gemm/include/deep_gemm/layout/mega_moe.cuh").read_text()
    candidates = [m.group(0).strip() for m in _CANDIDATES.finditer(layout)]
    if len(candidates) != 2:
        raise OracleUnavailable("mega_moe.cuh: candidate block sizes not found")
    return "\n".join(
        [
            "// Cut out of the wheel's heuristics/mega_moe.hpp and layout/mega_moe.cuh.",
            "#pragma once",
            "#include <algorithm>",
            "#include <cmath>",
            "#include <tuple>",
            '#include "csrc/jit_kernels/heuristics/sm100.hpp"',
            "namespace deep_gemm::layout {",
            *candidates,
            "}",
            "namespace deep_gemm {",
            text[start:end],
            "}",
        ]
    )


def _inputs_digest(wheel: Path) -> str:
    h = hashlib.sha256(str(wheel).encode())
    for path in sorted(ORACLE_SRC.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(ORACLE_SRC).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def compile_against_wheel(
    name: str,
    wheel: Path,
    generated: dict[str, str],
    driver: Path,
    *,
    includes: Sequence[Path] = (),
) -> Path:
    """Compile ``driver`` against the wheel's heuristics and ``csrc/utils/math.hpp`` (copied
    unchanged), the stubs, and ``generated`` headers (file name -> text) written beside them;
    once per inputs, into the test-wheel cache (``name`` names the binary and its folder)."""
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        raise OracleUnavailable("no C++ compiler (g++) on PATH")
    root = wheel_dir() / "oracle" / f"{name}-{_inputs_digest(wheel)}"
    binary = root / "oracle"
    with FileLock(str(wheel_dir() / ".oracle.lock")):
        if binary.exists():
            return binary
        if root.exists():
            shutil.rmtree(root)
        csrc = wheel / "deep_gemm/csrc"
        shutil.copytree(csrc / "jit_kernels/heuristics", root / "csrc/jit_kernels/heuristics")
        (root / "csrc/utils").mkdir(parents=True)
        shutil.copy(csrc / "utils/math.hpp", root / "csrc/utils/math.hpp")
        shutil.copytree(ORACLE_SRC / "stubs/csrc", root / "csrc", dirs_exist_ok=True)
        for file_name, text in generated.items():
            (root / file_name).write_text(text)
        cmd = [compiler, "-std=c++20", "-O1", "-w"]
        cmd += ["-I", str(ORACLE_SRC / "stubs/include"), "-I", str(wheel / "deep_gemm/include")]
        for extra in (root, *includes):
            cmd += ["-I", str(extra)]
        cmd += [str(driver), "-o", str(binary) + ".tmp"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode:
            raise OracleUnavailable(f"{name} did not compile:\n{done.stderr[-4000:]}")
        os.replace(str(binary) + ".tmp", binary)
    return binary


def build_oracle(version: str, wheel: Path) -> Path:
    """The oracle binary for one pinned build, compiled once into the test-wheel cache."""
    return compile_against_wheel(
        version, wheel, {"mega_block.hpp": _mega_block_header(wheel)}, ORACLE_SRC / "driver.cpp"
    )


class Oracle:
    """One pinned build's heuristics as a batch query service."""

    def __init__(self, version: str, binary: Path) -> None:
        self.version = version
        self.binary = binary

    def ask(self, queries: Sequence[str]) -> list[str]:
        """One answer line per query line, from one process."""
        text = "".join(q + "\n" for q in queries)
        done = subprocess.run(
            [str(self.binary)], input=text, capture_output=True, text=True, timeout=600, check=True
        )
        answers = done.stdout.splitlines()
        assert len(answers) == len(queries), done.stderr
        return answers


def oracle_for(version: str) -> Oracle:
    """The oracle of a pinned build, or skip the test with the reason."""
    assert version in PINNED
    wheel = unpacked_wheel(version)
    try:
        return Oracle(version, build_oracle(version, wheel))
    except OracleUnavailable as exc:
        pytest.skip(f"DeepGEMM {version} oracle unavailable: {exc}")


def gemm_query(
    arch: str,
    gemm_type: str,
    kernel_type: str,
    m: int,
    n: int,
    k: int,
    groups: int,
    dtypes: tuple[str, str, str],
    num_sms: int,
    *,
    expected_m: int = 0,
    expected_groups: int = 0,
    alignment: int = 128,
    block_m_multiple_of: int = 1,
    block_n_multiple_of: int = 1,
    with_accumulation: bool = False,
) -> str:
    """One `gemm` query line (see driver.cpp); `dtypes` is (A, B, CD)."""
    a, b, cd = dtypes
    return (
        f"gemm {arch} {gemm_type} {kernel_type} {m} {n} {k} {groups} {a} {b} {cd} {num_sms} "
        f"{expected_m} {expected_groups} {alignment} {block_m_multiple_of} {block_n_multiple_of} "
        f"{int(with_accumulation)}"
    )


def launcher_desc(gemm_type: str, m: int, groups: int) -> tuple[int, int, int]:
    """(desc.m, expected_m, expected_num_groups) as the 2.8 launchers fill the GemmDesc for a
    call at M = m: contiguous counts the layout as one group of m rows, masked passes m as
    expected_m with every group expected (desc.m, the padded rows per group, is not read)."""
    if gemm_type == "MGroupedContiguous":
        return m, m, 1
    if gemm_type == "MGroupedMasked":
        return m, m, groups
    return m, 0, 0


def parse_gemm_answer(answer: str) -> dict[str, int]:
    """The fields of an `ok` gemm answer by name; raises on an `err` answer."""
    head, *values = answer.split()
    if head != "ok":
        raise ValueError(answer)
    return dict(zip(GEMM_FIELDS, map(int, values), strict=True))


GEMM_FIELDS = [
    "swap_ab",
    "block_m",
    "block_n",
    "block_k",
    "cluster_m",
    "cluster_n",
    "load_block_m",
    "load_block_n",
    "store_block_m",
    "store_block_n",
    "swizzle_a",
    "swizzle_b",
    "swizzle_cd",
    "smem_size",
    "num_stages",
    "num_tma_store_stages",
    "num_sms",
    "num_sms_per_cluster",
    "num_threads",
    "num_tma_threads",
    "num_math_threads",
    "num_non_epilogue_threads",
    "num_epilogue_threads",
]


def sm100_query(problem, m: int) -> str:
    """The oracle query for a `jitwarm.selection._sm100.SM100GemmProblem` at M = m."""
    p = problem
    desc_m, expected_m, expected_groups = launcher_desc(p.gemm_type.value, m, p.num_groups)
    return gemm_query(
        "sm100",
        p.gemm_type.value,
        "NoSF" if p.a_dtype == "bf16" else "1D1D",
        desc_m,
        p.n,
        p.k,
        p.num_groups,
        (p.a_dtype, p.b_dtype, p.out_dtype),
        p.num_sms,
        expected_m=expected_m,
        expected_groups=expected_groups,
        alignment=p.mk_alignment,
        block_m_multiple_of=p.block_m_multiple_of,
        block_n_multiple_of=p.block_n_multiple_of,
        with_accumulation=p.with_accumulation,
    )


def sm100_fields(config, num_sms: int) -> tuple:
    """A `SM100KernelConfig` as the oracle's gemm answer fields (`GEMM_FIELDS`)."""
    c = config
    return (
        int(c.swap_ab), c.block_m, c.block_n, c.block_k, c.cluster_m, c.cluster_n,
        c.load_block_m, c.load_block_n, c.store_block_m, c.store_block_n,
        c.swizzle_a_bytes, c.swizzle_b_bytes, c.swizzle_cd_bytes, c.smem_bytes, c.num_stages,
        c.num_tma_store_stages, num_sms, c.cluster_size, c.num_threads, 32,
        128, c.num_non_epilogue_threads, c.num_epilogue_threads,
    )  # fmt: skip


def mega_query(problem, num_tokens: int, max_tokens_per_rank: int = 8192) -> str:
    """The oracle query for a `MegaMoEProblem` call with `num_tokens` tokens."""
    p = problem
    return f"mega {p.num_ranks} {p.num_experts} {max_tokens_per_rank} {p.num_topk} {num_tokens} {p.mma}"


def mega_fields(config) -> tuple:
    """A `MegaMoEBlockConfig` as the oracle's answer (the build's tuple, in its order)."""
    c = config
    store = (
        (c.store_block_m_l1,)
        if c.store_block_m_l2 is None
        else (c.store_block_m_l1, c.store_block_m_l2)
    )
    return (c.cluster_size, c.block_m, *store, c.block_k, c.num_epilogue_threads)


def answer_fields(answer: str) -> tuple | str:
    """An `ok` answer's integers, or the `err` line itself."""
    head, *values = answer.split()
    return tuple(map(int, values)) if head == "ok" else answer


def random_sm100_problem(rng):
    """A random SM100 GEMM problem: shapes no preset has, SM counts other than 148, the
    block-size multiples and alignments engines may set, every modelled type and dtype."""
    from jitwarm.selection._sm90 import GemmType
    from jitwarm.selection._sm100 import SM100GemmProblem

    gemm_type = rng.choice(
        [GemmType.NORMAL] * 4 + [GemmType.BATCHED] * 2
        + [GemmType.M_GROUPED_CONTIGUOUS, GemmType.M_GROUPED_MASKED]
    )  # fmt: skip
    a, b = rng.choice([("fp8", "fp8")] * 3 + [("fp8", "fp4"), ("fp4", "fp4"), ("bf16", "bf16")])
    grouped = gemm_type is not GemmType.NORMAL
    return SM100GemmProblem(
        gemm_type=gemm_type,
        n=rng.choice([16, 32, 64, 128]) * rng.randint(1, 128),
        k=rng.choice([128, 256]) * rng.randint(1, 56),
        num_groups=rng.randint(1, 64) if grouped else 1,
        a_dtype=a,
        b_dtype=b,
        out_dtype=rng.choice(["bf16", "bf16", "fp32"]),
        num_sms=rng.choice([148, 2 * rng.randint(4, 80)]),
        mk_alignment=rng.choice([128, 128, 256, 64]),
        block_m_multiple_of=rng.choice([1, 1, 1, 2, 3, 16, 32, 48, 64]),
        block_n_multiple_of=rng.choice([1, 1, 1, 2, 8, 16, 32, 48, 64]),
        with_accumulation=rng.random() < 0.1,
    )


def random_m(rng) -> int:
    return rng.choice([rng.randint(1, 96), rng.randint(1, 4096), rng.randint(1, 1 << 17)])


def random_mega_problem(rng):
    from jitwarm.selection._sm100 import MegaMoEProblem

    ranks = rng.choice([1, 2, 4, 8, 16, 32, 64])
    per_rank = rng.choice([1, 2, 4, 8, 16, 32, 64])
    return MegaMoEProblem(
        num_ranks=ranks,
        num_experts=ranks * per_rank,
        num_topk=rng.randint(1, min(16, ranks * per_rank)),
        mma=rng.choice(["fp8xfp4", "fp8xfp4", "bf16xbf16"]),
    )


class MetadataThreads:
    """The SM100 paged-metadata generator's own thread-count line (`num_threads = ...`) of a
    pinned build, compiled as a function of the flattened query rows, and whether the
    generator renders it into the kernel's template arguments."""

    def __init__(self, version: str) -> None:
        wheel = unpacked_wheel(version)
        text = (wheel / "deep_gemm/csrc/jit_kernels/impls/sm100_mqa_logits.hpp").read_text()
        body = text[text.index("static void sm100_paged_mqa_logits_metadata(") :]
        body = body[: body.index("jit->launch(")]
        line = next(ln for ln in body.splitlines() if re.search(r"\bnum_threads\s*=", ln))
        start = body.index(')",') + 3
        self.rendered_args = body[start : body.index("));", start)]
        self.bakes_threads = re.search(r"\bnum_threads\b", self.rendered_args) is not None
        source = (
            "#include <cstdint>\n#include <iostream>\nint main() {\n"
            "  int num_q_tokens_total;\n  while (std::cin >> num_q_tokens_total) {\n"
            f"    {line.strip()}\n    std::cout << num_threads << '\\n';\n  }}\n}}\n"
        )
        compiler = shutil.which(os.environ.get("CXX", "g++"))
        if compiler is None:
            pytest.skip("no C++ compiler (g++) on PATH")
        folder = (
            wheel_dir()
            / "oracle"
            / f"metadata-{version}-{hashlib.sha256(source.encode()).hexdigest()[:12]}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        self.binary = folder / "threads"
        if not self.binary.exists():
            (folder / "threads.cpp").write_text(source)
            cmd = [compiler, "-O1", str(folder / "threads.cpp"), "-o", str(self.binary) + ".tmp"]
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
            os.replace(str(self.binary) + ".tmp", self.binary)

    def threads(self, rows: Sequence[int]) -> list[int]:
        done = subprocess.run(
            [str(self.binary)], input="".join(f"{r}\n" for r in rows), capture_output=True,
            text=True, check=True, timeout=300,
        )  # fmt: skip
        return [int(x) for x in done.stdout.split()]
