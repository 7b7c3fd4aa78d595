"""The cache roots of the build this process would import: the layout, hence the default root
(``~/.deep_gemm`` or ``~/.dj``), is a fact of the build's profile."""

from __future__ import annotations

import os
from collections.abc import Mapping

from jitwarm import dgenv
from jitwarm.profiles._detect import detect_build


def resolve_cache_roots(
    cache_dir: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> dgenv.CacheRoots:
    """`dgenv.resolve_cache_roots` with the layout of the DeepGEMM build found here, where no
    root is given (a given ``--cache-dir`` or ``DG_JIT_CACHE_DIR`` is read as before)."""
    env = os.environ if env is None else env
    given = (cache_dir is not None and str(cache_dir)) or env.get(dgenv.CACHE_DIR_VAR)
    layout = None if given else detect_build(env=env).layout
    return dgenv.resolve_cache_roots(cache_dir, layout=layout, env=env)
