"""Real nvcc compiles of kernels DeepGEMM 2.8.0 generated, published by the builder: the entry
must be what DeepGEMM itself writes (folder name, kernel.cu byte for byte, a CUDA cubin,
meta.json, .committed), staged in tmp/ and published with one rename; a rerun compiles nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

from _build_gt import ground_truth, gt_entry, gt_flags, gt_job, real_nvcc
from _wheels import unpacked_wheel
from jitwarm.build import CompileSetup, JobStatus, LocalExecutor, nvcc_command
from jitwarm.cache import EntryStatus, cubin_file_problem, scan_entry

METADATA = "sm90_paged_mqa_logits_metadata"  # the smallest kernel (about 3 s of nvcc)


def test_nvcc_command_is_deepgemms():
    meta = gt_entry("sm90_fp8_gemm_1d2d")["meta"]
    command = meta["command"].replace("<cache_root>", "/root/.dj")
    work = re.search(r"/root/\.dj/tmp/[0-9a-f-]+", command).group(0)
    argv = nvcc_command(
        Path(meta["compiler_info"]["path"]), Path(work), gt_flags(meta), Path("<deep_gemm>/include")
    )
    assert " ".join(argv) == command


def test_build_writes_deepgemms_entry_and_resumes(tmp_path):
    nvcc = real_nvcc()
    package = unpacked_wheel("2.8.0") / "deep_gemm"
    job = gt_job(METADATA, package, nvcc)
    setup = CompileSetup(nvcc=nvcc, include_dir=package / "include", root=tmp_path)

    [result] = LocalExecutor(1).run([job], setup)
    assert result.status == JobStatus.COMPILED, result.reason
    assert result.compile_s > 0
    gt = gt_entry(METADATA)
    entry = tmp_path / "cache" / gt["entry"]
    assert sorted(p.name for p in entry.iterdir()) == [
        ".committed",
        "kernel.cu",
        "kernel.cubin",
        "meta.json",
    ]
    assert (entry / "kernel.cu").read_text() == gt["kernel_cu"]
    assert (entry / ".committed").read_bytes() == b""
    assert cubin_file_problem(entry / "kernel.cubin") is None
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["compiler_info"]["version"] == ground_truth()["nvcc_version_text"]
    # The command names the folder it was compiled in: DeepJIT's <root>/tmp/<pid>-<hex>-<hex>-<hex>
    staged = re.search(r"(\S+)/kernel\.cu ", meta["command"]).group(1)
    assert Path(staged).parent == tmp_path / "tmp"
    assert re.fullmatch(r"\d+-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}", Path(staged).name)
    assert list((tmp_path / "tmp").iterdir()) == []  # published by rename: nothing left
    assert scan_entry(entry, tmp_path).status is EntryStatus.OK

    mtime = (entry / "kernel.cubin").stat().st_mtime_ns
    [again] = LocalExecutor(1).run([job], setup)
    assert again.status == JobStatus.PRESENT and again.compile_s == 0
    assert (entry / "kernel.cubin").stat().st_mtime_ns == mtime


def test_entry_in_a_read_only_root_is_not_rebuilt(tmp_path):
    nvcc = real_nvcc()
    package = unpacked_wheel("2.8.0") / "deep_gemm"
    job = gt_job(METADATA, package, nvcc)
    ro = tmp_path / "ro" / "cache" / job.entry_name
    ro.mkdir(parents=True)
    (ro / ".committed").touch()
    setup = CompileSetup(
        nvcc=nvcc,
        include_dir=package / "include",
        root=tmp_path / "w",
        read_roots=(tmp_path / "ro",),
    )
    [result] = LocalExecutor(1).run([job], setup)
    assert result.status == JobStatus.PRESENT
    assert not (tmp_path / "w" / "cache").exists()
