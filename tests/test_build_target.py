"""Which DeepGEMM build a GPU-free build is for: wheels, folders, name==version, and one clear
line for everything that cannot be built."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from _cli import run
from _wheels import fetch_wheel, unpacked_wheel
from jitwarm.build import TargetError, resolve_target


def _wheel(path: Path, name: str, version: str, files: dict[str, str]) -> Path:
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        for n, text in files.items():
            zf.writestr(n, text)
    return path


_DG_FILES = {
    "deep_gemm/__init__.py": "__version__ = 'x'\n",
    "deep_gemm/include/deep_gemm/common/utils.cuh": "#pragma once\n",
}


def test_real_wheel_picks_its_profile(tmp_path):
    wheel = fetch_wheel("2.8.0")
    if wheel is None:
        pytest.skip("DeepGEMM 2.8.0 wheel not available")
    target = resolve_target(str(wheel), work_dir=tmp_path)
    assert target.profile.name == "tokenspeed-deepgemm-2.8.0"
    assert (target.distribution, target.version) == ("tokenspeed-deepgemm", "2.8.0.post20260924")
    assert (target.include_dir / "deep_gemm" / "impls" / "sm90_fp8_gemm_1d2d.cuh").is_file()
    again = resolve_target(str(wheel), work_dir=tmp_path)  # unpacked once, reused
    assert again.package_dir == target.package_dir


def test_unpacked_folder_and_its_package(tmp_path):
    folder = unpacked_wheel("2.8.2")
    assert resolve_target(str(folder)).profile.name == "tokenspeed-deepgemm-2.8.2"
    assert resolve_target(str(folder / "deep_gemm")).profile.name == "tokenspeed-deepgemm-2.8.2"


def test_vendored_vllm_copy_is_named_by_its_path(tmp_path):
    from jitwarm.build._target import _from_folder

    pkg = tmp_path / "vllm" / "third_party" / "deep_gemm"
    (pkg / "include" / "deep_gemm").mkdir(parents=True)
    (pkg / "__init__.py").write_text("import os\n__version__ = '2.8.1'\n")
    assert _from_folder(pkg) == ("vllm", "2.8.1", pkg)
    assert resolve_target(str(pkg)).profile.name == "vllm-deepgemm-2.8.1"


def test_profile_flag_names_the_build_when_the_files_cannot(tmp_path):
    pkg = tmp_path / "deep_gemm"
    (pkg / "include" / "deep_gemm").mkdir(parents=True)
    (pkg / "__init__.py").write_text("__version__ = '0.0.1'\n")
    with pytest.raises(TargetError, match=r"no profile for DeepGEMM build deep-gemm 0\.0\.1"):
        resolve_target(str(pkg))
    target = resolve_target(str(pkg), profile="tokenspeed-deepgemm-2.8.2")
    assert target.profile.name == "tokenspeed-deepgemm-2.8.2"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda p: _wheel(
                p / "requests-2.0-py3-none-any.whl", "requests", "2.0", {"requests/__init__.py": ""}
            ),
            "is not a DeepGEMM build",
        ),
        (
            lambda p: _wheel(
                p / "tokenspeed_deepgemm-9.9.9-py3-none-any.whl",
                "tokenspeed-deepgemm",
                "9.9.9",
                _DG_FILES,
            ),
            "no profile for DeepGEMM build tokenspeed-deepgemm 9.9.9",
        ),
        (
            lambda p: _wheel(
                p / "tokenspeed_deepgemm-2.5.0.post20260604-py3-none-any.whl",
                "tokenspeed-deepgemm",
                "2.5.0.post20260604",
                _DG_FILES,
            ),
            "cannot be built elsewhere",
        ),
        (
            lambda p: (p / "broken.whl").write_bytes(b"PK\x03\x04 not really") and p / "broken.whl",
            "corrupt",
        ),
        (lambda p: p / "missing.whl", "no such wheel file"),
        (lambda p: "not a target at all", "expected 'installed', a wheel file"),
    ],
)
def test_bad_targets_are_one_line(tmp_path, make, expected):
    spec = make(tmp_path)
    with pytest.raises(TargetError) as info:
        resolve_target(str(spec), work_dir=tmp_path / "work")
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_truncated_real_wheel_is_corrupt(tmp_path):
    wheel = fetch_wheel("2.8.0")
    if wheel is None:
        pytest.skip("DeepGEMM 2.8.0 wheel not available")
    cut = tmp_path / wheel.name
    cut.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    with pytest.raises(TargetError, match="corrupt"):
        resolve_target(str(cut), work_dir=tmp_path / "work")


def test_cli_bad_target_exits_2_with_one_line(capsys, tmp_path):
    code, _out, err = run(
        capsys, "build", "--model", "deepseek-v3", "--tp", "8", "--target", str(tmp_path / "x.whl")
    )
    assert code == 2
    assert err.strip().count("\n") == 0 and "no such wheel file" in err


def test_name_version_uses_a_wheel_already_downloaded(tmp_path):
    wheel = fetch_wheel("2.8.2")
    if wheel is None:
        pytest.skip("DeepGEMM 2.8.2 wheel not available")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / wheel.name).symlink_to(wheel)
    target = resolve_target("tokenspeed-deepgemm==2.8.2.post20261020", work_dir=tmp_path)
    assert target.profile.name == "tokenspeed-deepgemm-2.8.2"
    assert target.source == "tokenspeed-deepgemm==2.8.2.post20261020"


def test_installed_without_deepgemm_is_one_line(monkeypatch):
    monkeypatch.setenv("JITWARM_DEEPGEMM", "no_such_deep_gemm_module")
    with pytest.raises(TargetError) as info:
        resolve_target("installed")
    assert "no DeepGEMM is installed" in str(info.value) and "--target" in str(info.value)
