"""meta.json as DeepJIT writes it beside each kernel (``CUDA::compile`` in backend/cuda/
backend.hpp of tokenspeed-deepjit 0.1.0, MIT): the full nvcc command, the runtime's config,
the compiler's path and ``--version`` text and the compiler options, as compact JSON in
DeepJIT's own field order (its json::dump: no spaces, UTF-8 as is, no final newline)."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from jitwarm.deepjit._options import not_deepjit_error
from jitwarm.deepjit._render import KernelSource
from jitwarm.profiles import BuildProfile


def _normal(path: str | PurePosixPath) -> str:
    """``std::filesystem::path::lexically_normal`` for the absolute paths used here."""
    text = str(path)
    out = posixpath.normpath(text)
    return out + "/" if text.endswith("/") and out != "/" else out


def meta_json(
    kernel: KernelSource,
    profile: BuildProfile,
    *,
    nvcc_path: str,
    nvcc_version_text: str,
    library_root: str,
    tmp_dir: str,
    include_dirs: Sequence[str] | None = None,
) -> str:
    """The text of ``meta.json`` for ``kernel`` compiled in ``tmp_dir`` (the build's
    ``<cache root>/tmp/<uuid>``, where the entry was compiled before its rename).

    ``library_root``: the deep_gemm package folder; ``include_dirs``: default
    ``<library_root>/include``, as DeepGEMM's ``init_jit`` sets it. Paths are written as the
    build would (normalised, not resolved): pass them as the serving host will see them.
    """
    if profile.extra_signature is None or profile.deepjit_flags is None:
        raise not_deepjit_error(profile)
    root = _normal(library_root)
    includes = [_normal(d) for d in (include_dirs or [posixpath.join(root, "include")])]
    tmp = _normal(tmp_dir)
    command = [nvcc_path, f"{tmp}/kernel.cu", "--cubin", "--output-file", f"{tmp}/kernel.cubin"]
    command += kernel.flags
    for include in includes:
        command += ["--include-path", include]
    meta: dict[str, Any] = {
        "command": " ".join(command),
        "config": {
            "python_library_root": root,
            "extra_signature": profile.extra_signature,
            "include_dirs": includes,
            "include_prefixes": list(profile.deepjit_flags.include_prefixes),
        },
        "compiler_info": {"path": nvcc_path, "version": nvcc_version_text},
        "compiler_options": kernel.options.to_json(),
    }
    return json.dumps(meta, separators=(",", ":"), ensure_ascii=False)
