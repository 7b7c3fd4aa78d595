"""jitwarm's one exception tree: every error a caller may catch is defined in jitwarm.errors
and derives from JitwarmError; the packages re-export those very classes; the rest is private."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import pytest

import jitwarm
import jitwarm.errors as errors

SRC = Path(jitwarm.__file__).resolve().parent
ERRORS_FILE = SRC / "errors.py"


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _classes() -> list[tuple[Path, ast.ClassDef]]:
    return [
        (path, node)
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ClassDef)
    ]


def _exception_classes() -> list[tuple[Path, ast.ClassDef]]:
    """Every class under src/jitwarm that derives (by its bases' names, transitively) from a
    built-in exception."""
    classes = _classes()
    known = {
        name
        for name in dir(builtins)
        if isinstance(getattr(builtins, name), type)
        and issubclass(getattr(builtins, name), BaseException)
    }
    found: dict[tuple[Path, str], tuple[Path, ast.ClassDef]] = {}
    grew = True
    while grew:  # a class may derive from one defined later or in another module
        grew = False
        for path, node in classes:
            if (path, node.name) in found:
                continue
            if any(_base_name(b) in known for b in node.bases):
                found[(path, node.name)] = (path, node)
                known.add(node.name)
                grew = True
    return list(found.values())


def _public_module(path: Path) -> bool:
    parts = path.relative_to(SRC).with_suffix("").parts
    return not any(p.startswith("_") and p != "__init__" for p in parts)


def _names_exported_by_public_packages() -> set[str]:
    """Every string constant in a public package's __init__ (its __all__, lazy export maps)."""
    names: set[str] = set()
    for init in SRC.rglob("__init__.py"):
        if _public_module(init):
            for node in ast.walk(ast.parse(init.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    names.add(node.value)
    return names


def test_the_scan_sees_the_exception_classes() -> None:
    names = {node.name for _, node in _exception_classes()}
    assert {"JitwarmError", "UsageError", "BundleError", "Unrenderable", "UnreadableCall"} <= names
    assert "Plan" not in names and "GuardMode" not in names  # not exceptions


def test_every_exception_class_is_in_errors_or_private() -> None:
    exported = _names_exported_by_public_packages()
    stray = []
    for path, node in _exception_classes():
        if path == ERRORS_FILE or node.name.startswith("_"):
            continue
        # A class in a private module that no public package exports never reaches a caller
        # (an internal protocol: the generators' Unrenderable, record's UnreadableCall).
        if not _public_module(path) and node.name not in exported:
            continue
        stray.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert stray == []


def test_every_public_error_derives_from_jitwarm_error() -> None:
    defined = [node.name for path, node in _exception_classes() if path == ERRORS_FILE]
    assert len(defined) > 30
    for name in defined:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.JitwarmError), name
        assert not name.startswith("_"), name


def test_exit_codes_follow_the_tree() -> None:
    for name in dir(errors):
        cls = getattr(errors, name)
        if not (isinstance(cls, type) and issubclass(cls, errors.JitwarmError)):
            continue
        if issubclass(cls, errors.InlineJITError):
            assert cls.exit_code == 3, name
        elif issubclass(cls, errors.UsageError):
            assert cls.exit_code == 2, name
        else:
            assert cls.exit_code == 1, name


# Packages whose exported errors are jitwarm.errors' own classes (jitwarm.deepgemm needs torch:
# its lazy export map is read instead).
PACKAGES = [
    "jitwarm",
    "jitwarm.build",
    "jitwarm.bundle",
    "jitwarm.cache",
    "jitwarm.deepjit",
    "jitwarm.guard",
    "jitwarm.profiles",
    "jitwarm.record",
    "jitwarm.verify",
    "jitwarm.warmer",
    "jitwarm.warmer._errors",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_re_export_the_one_tree(package: str) -> None:
    module = importlib.import_module(package)
    seen = 0
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert obj is getattr(errors, name), f"{package}.{name}"
            seen += 1
    assert seen > 0 or package == "jitwarm"


def test_deepgemm_exports_its_error_from_the_tree() -> None:
    source = (SRC / "deepgemm" / "__init__.py").read_text()
    assert '"UnsupportedFamilyError": "jitwarm.errors"' in source


def test_old_import_paths_still_work() -> None:
    from jitwarm.dgenv import EnvValueError as DgEnvValueError
    from jitwarm.guard._env import EnvValueError as GuardEnvValueError
    from jitwarm.server._launcher import EngineFailed
    from jitwarm.server._warmup import BundleSupportMissing

    assert DgEnvValueError is GuardEnvValueError is errors.EnvValueError
    assert EngineFailed is errors.EngineFailedError
    assert BundleSupportMissing is errors.BundleSupportMissingError


def test_one_env_value_error_for_dg_and_guard_variables() -> None:
    from jitwarm import dgenv
    from jitwarm.guard._env import read_settings

    with pytest.raises(errors.EnvValueError) as guard_err:
        read_settings({"JITWARM_GUARD_METRICS_PORT": "99999"})
    with pytest.raises(errors.EnvValueError) as dg_err:
        dgenv.key_env({"DG_JIT_CPP_STANDARD": "c++20"})
    for err, var, value in (
        (guard_err.value, "JITWARM_GUARD_METRICS_PORT", "99999"),
        (dg_err.value, "DG_JIT_CPP_STANDARD", "c++20"),
    ):
        # A usage error (exit 2) and still a ValueError (a server's start-up catches that).
        assert isinstance(err, errors.UsageError) and isinstance(err, ValueError)
        assert (err.var, err.value) == (var, value) and err.expected
        assert str(err).startswith(f"{var}={value!r}: expected ")


def test_errors_carry_their_context(tmp_path: Path) -> None:
    from jitwarm.bundle import open_bundle
    from jitwarm.profiles import PROFILES, get_profile
    from jitwarm.record import load_recording

    with pytest.raises(errors.UnknownBuildError) as build_err:
        get_profile("no-such-build")
    assert build_err.value.name == "no-such-build"
    assert build_err.value.known == tuple(p.name for p in PROFILES)
    missing = tmp_path / "missing.tar.gz"
    with pytest.raises(errors.BundleError) as bundle_err, open_bundle(missing):
        pass
    assert bundle_err.value.path == missing
    with pytest.raises(errors.RecordingError) as record_err:
        load_recording(tmp_path / "missing.json")
    assert record_err.value.path == tmp_path / "missing.json"


def test_verify_raises_its_own_usage_error() -> None:
    from jitwarm.models._loader import load_model
    from jitwarm.plan import plan_serving
    from jitwarm.serving import ServingConfig
    from jitwarm.verify import verify_plan

    plan = plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8, arch="sm90"))
    with pytest.raises(errors.VerifyUsageError, match="--jobs") as err:
        verify_plan(plan, jobs=0)
    assert not isinstance(err.value, errors.WarmUsageError)
