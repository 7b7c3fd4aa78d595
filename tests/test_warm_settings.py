"""Worker environment, device assignment and the default number of workers."""

from pathlib import Path

import pytest
from tests._warm_plans import exact_plan

from jitwarm.warmer._errors import KeyChangingEnvError
from jitwarm.warmer._resources import (
    GpuInfo,
    assign_devices,
    default_jobs,
    visible_gpus,
    worker_mib,
)
from jitwarm.warmer._settings import worker_env


def test_plan_settings_cache_root_and_compile_printing_reach_workers(tmp_path: Path) -> None:
    plan = exact_plan().model_copy(update={"jit_env": {"DG_JIT_USE_NVRTC": "0"}})
    env = worker_env(plan, cache_root=tmp_path, base_env={})
    assert env == {
        "DG_JIT_USE_NVRTC": "0",
        "DG_JIT_CACHE_DIR": str(tmp_path),
        "DG_JIT_PRINT_COMPILER_COMMAND": "1",
        "CUDA_DEVICE_MAX_CONNECTIONS": "1",
    }


def test_a_callers_cuda_connection_count_is_kept(tmp_path: Path) -> None:
    env = worker_env(
        exact_plan(), cache_root=tmp_path, base_env={"CUDA_DEVICE_MAX_CONNECTIONS": "8"}
    )
    assert "CUDA_DEVICE_MAX_CONNECTIONS" not in env  # the inherited 8 stands


@pytest.mark.parametrize(
    "var", ["DG_JIT_DEBUG", "DG_JIT_PTXAS_VERBOSE", "DG_JIT_PTXAS_CHECK", "DG_JIT_WITH_LINEINFO"]
)
def test_key_changing_debug_variable_is_refused(var: str, tmp_path: Path) -> None:
    with pytest.raises(KeyChangingEnvError, match=var) as info:
        worker_env(exact_plan(), cache_root=tmp_path, base_env={var: "1"})
    assert info.value.exit_code == 2
    assert worker_env(
        exact_plan(), cache_root=tmp_path, base_env={var: "1"}, allow_key_changing_env=True
    )


def test_cpp_standard_only_when_it_differs_from_the_default(tmp_path: Path) -> None:
    worker_env(exact_plan(), cache_root=tmp_path, base_env={"DG_JIT_CPP_STANDARD": "20"})
    with pytest.raises(KeyChangingEnvError, match="DG_JIT_CPP_STANDARD=17"):
        worker_env(exact_plan(), cache_root=tmp_path, base_env={"DG_JIT_CPP_STANDARD": "17"})


def test_a_setting_the_plan_records_is_applied_not_refused(tmp_path: Path) -> None:
    plan = exact_plan().model_copy(update={"jit_env": {"DG_JIT_WITH_LINEINFO": "1"}})
    env = worker_env(plan, cache_root=tmp_path, base_env={})
    assert env["DG_JIT_WITH_LINEINFO"] == "1"


def test_existing_cuda_visible_devices_is_honoured() -> None:
    gpus = visible_gpus({"CUDA_VISIBLE_DEVICES": "2, GPU-abc ,7"})
    assert [g.device for g in gpus] == ["2", "GPU-abc", "7"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert assign_devices(5, gpus) == ["2", "GPU-abc", "7", "2", "GPU-abc"]
    assert assign_devices(2, []) == [None, None]


def test_default_jobs_from_cores_gpu_memory_and_items() -> None:
    gpus = [GpuInfo("0", 80_000), GpuInfo("1", 80_000)]
    assert default_jobs(1000, cpus=16, gpus=gpus, per_worker_mib=3000) == 16
    assert default_jobs(1000, cpus=64, gpus=gpus, per_worker_mib=20_000) == 8  # GPU memory bound
    assert default_jobs(5, cpus=16, gpus=gpus, per_worker_mib=3000) == 5  # no idle workers
    assert default_jobs(1000, cpus=16, gpus=[], per_worker_mib=3000, host_mib=8192) == 4
    assert default_jobs(1000, cpus=16, gpus=[GpuInfo("0", None)], per_worker_mib=3000) == 16


def test_worker_memory_covers_the_largest_call() -> None:
    plan = exact_plan()
    assert worker_mib(plan) > 1024  # context plus the biggest grouped GEMM's tensors
