"""Wrap ``deep_gemm`` the moment it is imported, so engine code that does
``from deep_gemm import fp8_gemm_nt`` already gets the wrapped function."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

OnImport = Callable[[types.ModuleType], None]


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, on_import: OnImport) -> None:
        self._inner = inner
        self._on_import = on_import

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._inner.exec_module(module)
        self._on_import(module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self._inner, name)


class DeepGemmImportHook(importlib.abc.MetaPathFinder):
    """A meta-path finder that lets the real finders find ``names`` and wraps their loader."""

    def __init__(self, names: Sequence[str], on_import: OnImport) -> None:
        self.names = frozenset(names)
        self.on_import = on_import

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, self.on_import)
                return spec
        return None


def install_hook(names: Sequence[str], on_import: OnImport) -> DeepGemmImportHook:
    """Patch already-imported modules now, the others when they are first imported."""
    hook = DeepGemmImportHook(names, on_import)
    sys.meta_path.insert(0, hook)
    for name in names:
        module = sys.modules.get(name)
        if module is not None:
            on_import(module)
    return hook


def remove_hook(hook: DeepGemmImportHook) -> None:
    if hook in sys.meta_path:
        sys.meta_path.remove(hook)
