"""The nvcc of a build: its exact version text (part of every key) and one line with the fix
when it is missing, too old, or cannot target the arch."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from _build_gt import ground_truth, real_nvcc
from jitwarm.build import NvccError, nvcc_arch, probe_nvcc


def _fake(tmp_path: Path, version: str, codes: str) -> Path:
    nvcc = tmp_path / "nvcc"
    nvcc.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            case "$1" in
              --version) printf '%s\\n' "{version}" ;;
              --list-gpu-code) printf '%s\\n' {codes} ;;
            esac
            """
        )
    )
    nvcc.chmod(0o755)
    return nvcc


def test_real_nvcc_version_text_is_the_raw_output():
    nvcc = probe_nvcc(real_nvcc(), arch="sm90")
    assert nvcc.version_text.endswith("\n")
    if "V13.0.88" not in nvcc.version_text:
        pytest.skip("not the nvcc build the ground truth was captured with")
    assert nvcc.version_text == ground_truth()["nvcc_version_text"]


def test_real_nvcc_targets_sm100a_without_a_gpu():
    assert probe_nvcc(real_nvcc(), arch="sm100").release >= (12, 9)


@pytest.mark.parametrize(
    ("version", "codes", "arch", "expected"),
    [
        ("Cuda compilation tools, release 12.4, V12.4.131", "sm_90", "sm90", "need 12.9 or later"),
        (
            "Cuda compilation tools, release 12.9, V12.9.86",
            "sm_80 sm_90",
            "sm100",
            "cannot target sm_100a",
        ),
        ("something else entirely", "sm_90", "sm90", "does not name a release"),
    ],
)
def test_unusable_nvcc_is_one_line_with_the_fix(tmp_path, version, codes, arch, expected):
    with pytest.raises(NvccError) as info:
        probe_nvcc(_fake(tmp_path, version, codes), arch=arch)
    msg = str(info.value)
    assert expected in msg and "\n" not in msg
    assert "install" in msg


def test_missing_nvcc(tmp_path):
    with pytest.raises(NvccError, match="could not run"):
        probe_nvcc(tmp_path / "nope", arch="sm90")


def test_arch_names():
    assert nvcc_arch("sm90") == "sm_90a"
    assert nvcc_arch("sm100") == "sm_100a"
    with pytest.raises(NvccError):
        nvcc_arch("hopper")
