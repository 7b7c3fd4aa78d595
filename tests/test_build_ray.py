"""The Ray executor on a small local Ray instance: a real nvcc compile as a Ray task, published
by the driver as DeepGEMM would; a rerun compiles nothing. Skipped when Ray is not installed."""

from __future__ import annotations

import pytest

from _build_gt import gt_entry, gt_job, real_nvcc
from _wheels import unpacked_wheel
from jitwarm.build import CompileSetup, JobStatus, RayExecutor, probe_nvcc

ray = pytest.importorskip("ray")

METADATA = "sm90_paged_mqa_logits_metadata"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_tasks_compile_and_the_driver_publishes(local_ray, tmp_path):
    nvcc = probe_nvcc(real_nvcc(), arch="sm90")
    package = unpacked_wheel("2.8.0") / "deep_gemm"
    job = gt_job(METADATA, package, nvcc.path)
    setup = CompileSetup(nvcc=nvcc.path, include_dir=package / "include", root=tmp_path)
    executor = RayExecutor("auto", version_text=nvcc.version_text)
    [result] = executor.run([job], setup)
    assert result.status == JobStatus.COMPILED, result.reason
    assert executor.jobs == 2
    entry = tmp_path / "cache" / job.entry_name
    assert (entry / "kernel.cu").read_text() == gt_entry(METADATA)["kernel_cu"]
    assert (entry / ".committed").exists() and (entry / "kernel.cubin").read_bytes()[
        :4
    ] == b"\x7fELF"
    [again] = executor.run([job], setup)
    assert again.status == JobStatus.PRESENT


def test_a_node_with_another_nvcc_build_fails_the_task(local_ray, tmp_path):
    nvcc = probe_nvcc(real_nvcc(), arch="sm90")
    package = unpacked_wheel("2.8.0") / "deep_gemm"
    job = gt_job(METADATA, package, nvcc.path)
    setup = CompileSetup(nvcc=nvcc.path, include_dir=package / "include", root=tmp_path)
    [result] = RayExecutor("auto", version_text="another nvcc\n").run([job], setup)
    assert result.status == JobStatus.FAILED and "another build" in result.reason
    assert not (tmp_path / "cache").exists()
