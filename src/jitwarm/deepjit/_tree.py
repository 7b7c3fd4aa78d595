"""The source-tree digest DeepJIT puts in every key (``deep_jit::Parser`` in utils/parser.hpp
of tokenspeed-deepjit 0.1.0, MIT): a fresh hash over the file's bytes, then, for each line that
is an ``#include <...>`` of one of the build's prefixes (a textual scan in file order, not the
preprocessor's), that header's own digest, recursively. Other headers (cute, cutlass, system)
are not read. Each header's digest is computed once per include folder set."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jitwarm.deepjit._hash import DeepJitHash
from jitwarm.errors import HeaderNotFoundError, NonStandardIncludeError

_LEFT_SPACE = " \t\f\v"  # Parser::trim_left (no \r, no \n)


def _include_name(line: str, prefixes: tuple[str, ...], where: str) -> str | None:
    """The header named by ``line`` if DeepJIT follows it, as ``Parser::parse_include``."""
    rest = line.lstrip(_LEFT_SPACE)
    if not rest.startswith("#"):
        return None
    rest = rest[1:].lstrip(_LEFT_SPACE)
    if not rest.startswith("include"):
        return None
    rest = rest[len("include") :].lstrip(_LEFT_SPACE)
    if not rest or rest[0] not in '<"':
        return None
    closing = min((i for i in (rest.find(">", 1), rest.find('"', 1)) if i != -1), default=-1)
    if closing == -1:
        return None
    name = rest[1:closing]
    if (
        rest[0] != "<"
        or rest[closing] != ">"
        or not name
        or name[0] in _LEFT_SPACE
        or name[-1] in _LEFT_SPACE
    ):
        raise NonStandardIncludeError(line, where)
    return name if any(name.startswith(p) for p in prefixes) else None


class SourceTreeDigester:
    """Digests sources against one build's include folders (first folder holding a header
    wins), caching every header's digest."""

    def __init__(self, include_dirs: tuple[Path, ...], include_prefixes: tuple[str, ...]) -> None:
        self.include_dirs = include_dirs
        self.include_prefixes = include_prefixes
        self._headers: dict[str, str] = {}
        self._visiting: set[str] = set()

    def digest(self, code: bytes | str, *, where: str = "kernel source") -> str:
        raw = code.encode() if isinstance(code, str) else code
        h = DeepJitHash().update(raw)
        # DeepJIT splits on '\n' only; a line keeps any '\r'. Bytes are decoded only to scan.
        for line in raw.decode("utf-8", errors="surrogateescape").split("\n"):
            name = _include_name(line, self.include_prefixes, where)
            if name is not None:
                h.update(self._header(name))
        return h.hexdigest()

    def _header(self, name: str) -> str:
        if name in self._headers:
            return self._headers[name]
        if name in self._visiting:
            raise NonStandardIncludeError(f"#include <{name}>", "circular include")
        path = next((d / name for d in self.include_dirs if (d / name).exists()), None)
        if path is None:
            raise HeaderNotFoundError(name, self.include_dirs)
        self._visiting.add(name)
        try:
            digest = self.digest(path.read_bytes(), where=str(path))
        finally:
            self._visiting.discard(name)
        self._headers[name] = digest
        return digest


@lru_cache(maxsize=16)
def source_tree_digester(
    include_dirs: tuple[Path, ...], include_prefixes: tuple[str, ...] = ("deep_gemm/",)
) -> SourceTreeDigester:
    """One shared digester per include folder set (headers are hashed once per process)."""
    return SourceTreeDigester(include_dirs, include_prefixes)
