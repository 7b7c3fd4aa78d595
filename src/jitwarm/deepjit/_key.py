"""The DeepJIT cache key (``Runtime::cache_key`` in runtime/runtime.hpp of tokenspeed-deepjit
0.1.0, MIT): one hash chained over five updates: the extra signature, the digest of the raw
``nvcc --version`` output, the flags joined by single spaces, the post-hook digest (empty
without a hook) and the source-tree digest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jitwarm.deepjit._hash import DeepJitHash, deepjit_digest
from jitwarm.deepjit._tree import source_tree_digester


def deepjit_key(
    extra_signature: str,
    nvcc_version_text: str,
    flags: Sequence[str],
    post_hook: str,
    source: str,
    include_dirs: Sequence[Path | str],
    *,
    include_prefixes: tuple[str, ...] = ("deep_gemm/",),
) -> str:
    """32 hex digits: the ``<key>`` of the cache entry ``<tag>.<key>``.

    ``nvcc_version_text`` is the exact output of ``nvcc --version`` (final newline included);
    ``post_hook`` the post-hook digest ("" when the build sets none, as DeepGEMM's do);
    ``include_dirs`` the build's include folders (headers are read from the first that has
    them; their digests are cached per process).
    """
    digester = source_tree_digester(tuple(Path(d) for d in include_dirs), include_prefixes)
    h = DeepJitHash()
    h.update(extra_signature)
    h.update(deepjit_digest(nvcc_version_text))
    h.update(" ".join(flags))
    h.update(post_hook)
    h.update(digester.digest(source))
    return h.hexdigest()
