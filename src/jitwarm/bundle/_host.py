"""This host's provenance, found without torch or deep_gemm, and the comparison with a bundle's.

GPU facts come from the CUDA driver (``libcuda`` through ctypes, in a short subprocess so this
process never initializes CUDA), else ``nvidia-smi`` (arch and name; it cannot tell the SM
count), else from flags, else they stay unknown. An unknown host value is a warning, never a
mismatch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jitwarm import dgenv
from jitwarm.bundle._manifest import Provenance
from jitwarm.dgenv import NVCC_VAR, Layout, find_nvcc, nvcc_release, nvcc_version_text
from jitwarm.profiles import DetectedBuild, detect_build

# Ask the driver for device 0 of CUDA_VISIBLE_DEVICES: compute capability, SM count, name.
_DRIVER_PROBE = r"""
import ctypes, json, sys
cu = ctypes.CDLL("libcuda.so.1")
dev, v = ctypes.c_int(), ctypes.c_int()
if cu.cuInit(0) != 0 or cu.cuDeviceGet(ctypes.byref(dev), 0) != 0:
    sys.exit(1)
out = {}
for key, attr in (("major", 75), ("minor", 76), ("num_sms", 16)):
    if cu.cuDeviceGetAttribute(ctypes.byref(v), attr, dev) != 0:
        sys.exit(1)
    out[key] = v.value
name = ctypes.create_string_buffer(256)
if cu.cuDeviceGetName(name, 256, dev) == 0:
    out["name"] = name.value.decode(errors="replace")
print(json.dumps(out))
"""


@dataclass(frozen=True)
class GpuFacts:
    arch: str | None = None
    num_sms: int | None = None
    name: str | None = None


def _arch(major: int, minor: int) -> str:
    return f"sm{major}{minor}"


def probe_gpu(*, timeout_s: float = 30.0) -> GpuFacts:
    """The first visible GPU's arch, SM count and name; fields are None where unknown."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _DRIVER_PROBE],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode == 0:
            raw = json.loads(done.stdout)
            return GpuFacts(_arch(raw["major"], raw["minor"]), raw["num_sms"], raw.get("name"))
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        pass
    return _probe_nvidia_smi(timeout_s)


def _probe_nvidia_smi(timeout_s: float) -> GpuFacts:
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1", "NoDevFiles"):
        return GpuFacts()  # no GPU is visible to DeepGEMM, whatever nvidia-smi would list
    visible = (hidden or "").split(",")[0].strip()
    cmd = ["nvidia-smi", "--query-gpu=compute_cap,name", "--format=csv,noheader"]
    if visible.isdigit():
        cmd += ["-i", visible]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        return GpuFacts()
    lines = done.stdout.strip().splitlines() if done.returncode == 0 else []
    if not lines:
        return GpuFacts()
    cap, _, name = lines[0].partition(",")
    major, _, minor = cap.strip().partition(".")
    if not (major.isdigit() and minor.isdigit()):
        return GpuFacts(name=name.strip() or None)
    return GpuFacts(_arch(int(major), int(minor)), None, name.strip() or None)


def host_provenance(
    *,
    arch: str | None = None,
    num_sms: int | None = None,
    gpu: GpuFacts | None = None,
    env: Mapping[str, str] | None = None,
    build: DetectedBuild | None = None,
) -> Provenance:
    """This host as DeepGEMM would build on it. ``arch`` / ``num_sms`` (flags) win over the
    probe (a server may call ``set_num_sms``); ``gpu`` replaces the probe (tests); ``build``
    the detection (``--deepgemm``)."""
    env = os.environ if env is None else env
    if gpu is None and (arch is None or num_sms is None):
        gpu = probe_gpu()
    gpu = gpu or GpuFacts()
    build = build or detect_build(env=env)
    install = build.install
    nvcc = find_nvcc(env)
    version = nvcc_version_text(nvcc)
    return Provenance(
        arch=arch or gpu.arch,
        num_sms=num_sms or gpu.num_sms,
        gpu_name=gpu.name,
        deepgemm_distribution=install.distribution,
        deepgemm_version=install.version,
        deepgemm_path=str(install.path) if install.path else None,
        deepgemm_module=install.module if install.found else None,
        deepgemm_build=build.profile_name if install.found else None,
        nvcc_path=str(nvcc) if nvcc else None,
        nvcc_version=version,
        cuda_version=nvcc_release(version),
        key_env=build.profile.key_env(env) if build.profile else dgenv.key_env(env),
        layout=build.layout,
    )


def compare_provenance(bundle: Provenance, host: Provenance) -> tuple[list[str], list[str]]:
    """(mismatches, warnings) between a bundle's provenance and this host's.

    Compared: arch, SM count, the DeepGEMM build (its profile), distribution, version and
    install path, nvcc release
    (and the whole version text for DeepJIT, which keys on it), cache layout, and the
    key-changing settings (the nvcc override by its version, not its path).
    """
    mismatches: list[str] = []
    warnings: list[str] = []

    def same(label: str, b: object, h: object) -> None:
        if b is None or h is None:
            if b != h:
                side = "this host" if h is None else "the bundle"
                warnings.append(f"{label}: unknown on {side}, not checked")
            return
        if b != h:
            mismatches.append(f"{label}: bundle {b}, this host {h}")

    same("arch", bundle.arch, host.arch)
    same("DeepGEMM build", bundle.deepgemm_build, host.deepgemm_build)
    same("SM count", bundle.num_sms, host.num_sms)
    same("DeepGEMM distribution", bundle.deepgemm_distribution, host.deepgemm_distribution)
    same("DeepGEMM version", bundle.deepgemm_version, host.deepgemm_version)
    deepjit = Layout.DEEPJIT in (bundle.layout, host.layout)
    if not deepjit:  # upstream JIT keys on its include path; DeepJIT does not
        same("DeepGEMM install path", bundle.deepgemm_path, host.deepgemm_path)
    elif bundle.deepgemm_path != host.deepgemm_path:
        warnings.append("DeepGEMM install path differs (not part of DeepJIT keys)")
    nvcc_differs = nvcc_version_mismatch(bundle, host) if deepjit else None
    if nvcc_differs:  # DeepJIT: the whole text is in every key, the release with it
        mismatches.append(nvcc_differs)
    else:
        same("nvcc release", bundle.cuda_version, host.cuda_version)
    same(
        "cache layout",
        bundle.layout.value if bundle.layout else None,
        host.layout.value if host.layout else None,
    )
    b_env = {k: v for k, v in bundle.key_env.items() if k != NVCC_VAR}
    h_env = {k: v for k, v in host.key_env.items() if k != NVCC_VAR}
    for var in sorted(b_env.keys() | h_env.keys()):
        if b_env.get(var) != h_env.get(var):
            mismatches.append(
                f"{var}: bundle {b_env.get(var, 'unset')}, this host {h_env.get(var, 'unset')}"
            )
    return mismatches, warnings


def nvcc_version_mismatch(built: Provenance, host: Provenance) -> str | None:
    """One line, with the fix, when this host's ``nvcc --version`` text differs from the one
    the kernels were built with: DeepJIT hashes all of it into every key, so every entry would
    miss. None when they agree or either is unknown."""
    b, h = (p.nvcc_version.strip() if p.nvcc_version else None for p in (built, host))
    if not b or not h or b == h:
        return None
    fix = (
        f"point DG_JIT_NVCC_COMPILER (or CUDA_HOME) at that nvcc build, e.g. {built.nvcc_path}, "
        if built.nvcc_path
        else "install that nvcc build, "
    )
    return (
        f"nvcc --version differs ({_nvcc_build_line(b)} built these kernels, this host has "
        f"{_nvcc_build_line(h)}), so every DeepJIT entry would miss: {fix}or rebuild with "
        "`jitwarm build` on this host's nvcc"
    )


def _nvcc_build_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    release = next((ln for ln in lines if "release" in ln), lines[-1] if lines else text)
    built = next((ln for ln in lines if ln.startswith("Build ")), "")
    return f"{release.split(',')[-1].strip()} {built.removeprefix('Build ')}".strip()


PROVENANCE_FILE = "jitwarm-provenance.json"  # what warm built a cache root with; doctor reads it


def write_cache_provenance(root: Path, provenance: Provenance) -> Path:
    """Record at the cache root what its kernels were built with (atomically)."""
    from jitwarm._atomic import atomic_write_text

    path = Path(root) / PROVENANCE_FILE
    atomic_write_text(path, provenance.model_dump_json(indent=1) + "\n")
    return path


def read_cache_provenance(root: Path) -> Provenance | None:
    """What warm recorded at a cache root, or None (no record, or one this jitwarm cannot
    read: a missing record only means there is nothing to compare)."""
    try:
        return Provenance.model_validate_json((Path(root) / PROVENANCE_FILE).read_bytes())
    except (OSError, ValueError):
        return None
