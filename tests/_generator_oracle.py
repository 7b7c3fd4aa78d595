"""The generator oracle: DeepGEMM's own SM100 1D1D GEMM source generator from a pinned wheel,
compiled with g++ on a CPU (tests/oracle/generator_driver.cpp says what it answers).

`build_generator_oracle` cuts four pieces verbatim out of the wheel's ``csrc/jit_kernels/
impls/`` (the ``SM100FP8FP4Gemm1D1DRuntime`` class, the ``sm100_tf32_hc_prenorm_gemm``
launcher, the indexer launchers of ``sm100_mqa_logits.hpp`` (the whole file's body), the pure helpers of ``runtime_utils.hpp`` (``to_string``, ``get_compiled_dim``, ...), the build's
identity epilogue: ``epilogue.hpp`` in 2.8.0, ``epilogue_class.hpp`` in 2.8.2, and the SM90
prefill indexer launcher ``sm90_fp8_mqa_logits`` of ``sm90_fp8_mqa_logits.hpp``), copies the heuristics as tests/_oracle.py does and compiles
the driver against them and tests/oracle/stubs. Nothing the driver prints is computed by
jitwarm. `launcher_tag` reads each launcher's tag out of the same file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from _oracle import ORACLE_SRC, OracleUnavailable, compile_against_wheel
from _wheels import PINNED, unpacked_wheel

_IMPLS = "deep_gemm/csrc/jit_kernels/impls"
_GEMM = "sm100_fp8_fp4_gemm_1d1d.hpp"
_HC = "sm100_tf32_hc_prenorm_gemm.hpp"
_MQA = "sm100_mqa_logits.hpp"
_SM90_MQA = "sm90_fp8_mqa_logits.hpp"


def _cut(text: str, start: str, end: str, what: str) -> str:
    """``text`` from ``start`` up to (not including) ``end``."""
    try:
        i = text.index(start)
        return text[i : text.index(end, i)]
    except ValueError:
        raise OracleUnavailable(f"{what}: {start!r} .. {end!r} not found") from None


def _cut_header(wheel: Path) -> str:
    impls = wheel / _IMPLS
    utils = _cut(
        (impls / "runtime_utils.hpp").read_text(),
        "static std::pair<int, int> get_inner_outer_dims",
        "static CUtensorMapDataType",
        "runtime_utils.hpp",
    )
    gemm = (impls / _GEMM).read_text()
    runtime = _cut(gemm, "class SM100FP8FP4Gemm1D1DRuntime", "\n// ", _GEMM)
    if (impls / "epilogue_class.hpp").exists():  # 2.8.2: epilogue classes
        text = (impls / "epilogue_class.hpp").read_text()
        epilogue = _cut(text, "class EpilogueClass", "class FP8CastWithClampEpilogue", "epilogue")
        flag = "#define JITWARM_EPILOGUE_CLASS 1"
    else:  # 2.8.0: an epilogue type string and its arguments
        text = (impls / "epilogue.hpp").read_text()
        epilogue = _cut(text, "static std::string get_default_epilogue_type", "\n} //", "epilogue")
        flag = ""
    hc_text = (impls / _HC).read_text()
    hc = _cut(hc_text, "static void sm100_tf32_hc_prenorm_gemm(", "\n} //", _HC)
    mqa_text = (impls / _MQA).read_text()
    mqa = _cut(mqa_text, "namespace deep_gemm {", "\n} // namespace deep_gemm", _MQA)
    mqa = mqa.removeprefix("namespace deep_gemm {")
    if "struct MQALogitsConfig" in mqa:  # 2.8.2: one config for both launchers
        flag += "\n#define JITWARM_MQA_LOGITS_CONFIG 1"
    # The SM90 prefill indexer launcher; 2.8.0's takes (and bakes) the caller's flags.
    sm90_text = (impls / _SM90_MQA).read_text()
    sm90_mqa = _cut(
        sm90_text,
        "static void sm90_fp8_mqa_logits(",
        "static void sm90_paged_mqa_logits_metadata",
        _SM90_MQA,
    )
    if "const bool& clean_logits" in sm90_mqa:
        flag += "\n#define JITWARM_SM90_MQA_FLAGS 1"
    return "\n".join(
        [
            "// Cut verbatim out of the wheel's impls/runtime_utils.hpp, its epilogue header and",
            "// impls/sm100_fp8_fp4_gemm_1d1d.hpp (tests/_generator_oracle.py).",
            "#pragma once",
            "#include <cmath>",
            "#include <format>",
            "#include <memory>",
            "#include <optional>",
            "#include <string>",
            "#include <torch/python.h>",
            "#include <deep_gemm/common/types.cuh>",
            '#include "csrc/jit_kernels/heuristics/sm100.hpp"',
            '#include "csrc/jit_kernels/heuristics/sm90.hpp"',
            '#include "csrc/runtime/runtime.hpp"',
            '#include "csrc/utils/math.hpp"',
            '#include "generator_stubs.hpp"',
            flag,
            "namespace deep_gemm {",
            utils,
            epilogue,
            runtime,
            hc,
            mqa,
            sm90_mqa,
            "}  // namespace deep_gemm",
        ]
    )


def launcher_tag(wheel: Path, launcher: str) -> str:
    """The tag ``launcher`` (a function of the wheel's sm100_fp8_fp4_gemm_1d1d.hpp) compiles
    its kernel under."""
    text = (wheel / _IMPLS / _GEMM).read_text()
    start = text.index(f"static void {launcher}(")
    match = re.compile(r'compile_and_launch\("([^"]+)"').search(text, start)
    assert match is not None, launcher
    return match.group(1)


def build_generator_oracle(version: str, wheel: Path) -> Path:
    return compile_against_wheel(
        f"generator-{version}",
        wheel,
        {"generator_cut.hpp": _cut_header(wheel)},
        ORACLE_SRC / "generator_driver.cpp",
        includes=(ORACLE_SRC,),
    )


class GeneratorOracle:
    """One pinned build's SM100 GEMM generator as a batch query service."""

    def __init__(self, version: str, wheel: Path, binary: Path) -> None:
        self.version = version
        self.wheel = wheel
        self.binary = binary

    def render(self, queries: list[str]) -> list[tuple[str, str | None, str]]:
        """Per query: (the tag, the arch override or None, the source DeepJIT was handed),
        from one process; an ``err`` answer raises."""
        text = "".join(q + "\n" for q in queries).encode()
        out = subprocess.run(
            [str(self.binary)], input=text, capture_output=True, timeout=600, check=True
        ).stdout
        answers, pos = [], 0
        for query in queries:
            end = out.index(b"\n", pos)
            head = out[pos:end].decode().split()
            if head[0] != "ok":
                raise AssertionError(f"{query}: {' '.join(head)}")
            size = int(head[3])
            source = out[end + 1 : end + 1 + size].decode()
            answers.append((head[1], None if head[2] == "-" else head[2], source))
            pos = end + 1 + size + 1
        return answers


def generator_oracle_for(version: str) -> GeneratorOracle:
    """The generator oracle of a pinned build; skips only without g++ or the wheel."""
    assert version in PINNED
    wheel = unpacked_wheel(version)
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        pytest.skip("no C++ compiler (g++) on PATH: the generator oracle cannot be built")
    try:
        return GeneratorOracle(version, wheel, build_generator_oracle(version, wheel))
    except OracleUnavailable as exc:  # the wheel's files changed shape: a failure, not a skip
        pytest.fail(f"DeepGEMM {version} generator oracle: {exc}")
