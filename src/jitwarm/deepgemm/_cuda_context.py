"""Create this process's CUDA primary context through the driver API, without torch.

A warm worker calls this on a side thread the moment it starts, so the context (about a second
when sixteen processes create theirs at once) is made while the main thread unpickles its task
and imports deep_gemm, instead of after. ctypes releases the GIL for the driver calls. The CUDA
runtime (torch, DeepGEMM) then finds the primary context made and uses it.

Best effort: any failure is left for the worker's real setup to meet and report.
"""

from __future__ import annotations

import ctypes


def retain_primary_context() -> None:
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return
    device = ctypes.c_int()
    context = ctypes.c_void_p()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGet(ctypes.byref(device), 0) != 0:
        return
    # Held until the process exits; the runtime retains the same context on its first use.
    cuda.cuDevicePrimaryCtxRetain(ctypes.byref(context), device)
