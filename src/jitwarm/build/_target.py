"""The DeepGEMM build a cache is made for: the installed one, a wheel file, ``name==version``
(fetched with ``pip download --no-deps``) or an unpacked package folder, found and unpacked
without importing it, and matched to its profile.

What the builder needs from the target is only its files (``include/`` with the headers every
key hashes, and for the renderer the generators it ships) plus the profile that says how the
build names, renders and caches kernels.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from jitwarm.errors import TargetError
from jitwarm.profiles import (
    PROFILES,
    BuildProfile,
    JitGeneration,
    detect_build,
    get_profile,
    profile_for,
)

INSTALLED = "installed"
# The build a message names as an example: the first profiled one a cache can be built for here.
_EXAMPLE = next(p for p in PROFILES if p.deepjit_flags is not None)
# The published DeepGEMM wheels are CPython 3.12 manylinux binaries: a download from another
# interpreter asks for those tags when its own find nothing (only the headers are used).
_WHEEL_TAGS = (
    "--only-binary=:all:",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--platform",
    "manylinux_2_28_x86_64",
)
_SPEC = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")
_VERSION_LINE = re.compile(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", re.M)


@dataclass(frozen=True)
class TargetBuild:
    """A DeepGEMM build on disk, ready to render and compile for."""

    profile: BuildProfile
    distribution: str
    version: str
    package_dir: Path  # the `deep_gemm` package folder (include/ and csrc/ inside)
    source: str  # what the user named: "installed", a wheel, name==version, a folder

    @property
    def include_dir(self) -> Path:
        return self.package_dir / "include"

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}"


def resolve_target(
    spec: str | None = None,
    *,
    work_dir: Path | None = None,
    profile: str | None = None,
) -> TargetBuild:
    """The build ``spec`` names (default: the installed one).

    ``work_dir`` holds downloaded and unpacked wheels (default ``~/.cache/jitwarm/builds``);
    ``profile`` names the profile when the files cannot say (an unpacked vendored copy).
    """
    spec = spec or INSTALLED
    work = Path(work_dir) if work_dir else _default_work_dir()
    if spec == INSTALLED:
        found = _installed()
    elif _SPEC.match(spec):
        found = _from_wheel(_download(spec, work), work)
    elif spec.endswith(".whl"):
        found = _from_wheel(Path(spec), work)
    elif Path(spec).is_dir():
        found = _from_folder(Path(spec))
    else:
        raise TargetError(
            f"--target {spec!r}: expected 'installed', a wheel file, name==version, or a "
            "DeepGEMM package folder",
            target=spec,
        )
    dist, version, package = found
    if profile is not None:
        chosen = get_profile(profile)
    else:
        chosen = profile_for(_normalize(dist), version)
        if chosen is None:
            known = ", ".join(p.label for p in PROFILES)
            raise TargetError(
                f"no profile for DeepGEMM build {dist} {version} (known: {known})", target=spec
            )
    target = TargetBuild(chosen, dist, version, package, spec)
    _check_buildable(target)
    return target


def _check_buildable(target: TargetBuild) -> None:
    if target.profile.generation is not JitGeneration.DEEPJIT:
        raise TargetError(
            f"{target.label}: its JIT generation ({target.profile.generation.value}) keys every "
            "kernel on the serving host's install path and nvcc release, so a cache for it "
            "cannot be built elsewhere; warm it on the GPU host (jitwarm warm)",
            target=target.source,
        )
    if target.profile.deepjit_flags is None or target.profile.extra_signature is None:
        raise TargetError(
            f"{target.label} ({target.profile.name}): jitwarm cannot render its kernels yet (its "
            "profile has no DeepJIT flag facts); warm it on the GPU host (jitwarm warm)",
            target=target.source,
        )
    if not (target.include_dir / "deep_gemm").is_dir():
        raise TargetError(
            f"{target.package_dir}: no include/deep_gemm/ headers (not DeepGEMM?)",
            target=target.package_dir,
        )


def _installed() -> tuple[str, str, Path]:
    detected = detect_build()
    if not detected.found or detected.path is None:
        raise TargetError(
            "no DeepGEMM is installed in this interpreter; pass --target WHEEL or "
            f"--target NAME==VERSION (e.g. {_EXAMPLE.distribution}=={_EXAMPLE.version})"
        )
    return detected.distribution or "deep_gemm", detected.version or "unknown", detected.path


def _from_folder(folder: Path) -> tuple[str, str, Path]:
    """An unpacked package folder, or a folder holding one (a site folder, an unpacked wheel)."""
    package = folder if (folder / "include").is_dir() else folder / "deep_gemm"
    if not (package / "__init__.py").is_file():
        raise TargetError(
            f"{folder}: not a DeepGEMM package folder (no deep_gemm/__init__.py)", target=folder
        )
    meta = next(package.parent.glob("*.dist-info/METADATA"), None)
    if meta is not None:
        dist, version = _read_metadata(meta.read_text(errors="replace"), str(meta))
    else:  # a vendored copy: its own __version__, its host named by its path
        found = _VERSION_LINE.search((package / "__init__.py").read_text(errors="replace"))
        if found is None:
            raise TargetError(
                f"{package}: no dist-info and no __version__; pass --profile", target=package
            )
        version = found.group(1)
        dist = "vllm" if package.parent.name == "third_party" else "deep-gemm"
    return dist, version, package


def _from_wheel(wheel: Path, work: Path) -> tuple[str, str, Path]:
    if not wheel.is_file():
        raise TargetError(f"{wheel}: no such wheel file", target=wheel)
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            meta_name = next(
                (n for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)), None
            )
            if meta_name is None:
                raise TargetError(f"{wheel}: not a wheel (no .dist-info/METADATA)", target=wheel)
            dist, version = _read_metadata(zf.read(meta_name).decode(errors="replace"), str(wheel))
            package = _package_in(names)
            if package is None:
                raise TargetError(
                    f"{wheel}: {dist} {version} is not a DeepGEMM build (no deep_gemm/include/ "
                    "headers inside)",
                    target=wheel,
                )
            dest = work / "unpacked" / wheel.name.removesuffix(".whl")
            if not (dest / ".unpacked").is_file():
                _unpack(zf, dest)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise TargetError(f"{wheel}: corrupt or unreadable wheel ({exc})", target=wheel) from None
    return dist, version, dest / package


def _package_in(names: list[str]) -> str | None:
    """The folder inside a wheel that holds ``include/deep_gemm/`` (``deep_gemm`` or a vendored
    ``.../deep_gemm``)."""
    for n in names:
        head, sep, _ = n.partition("/include/deep_gemm/")
        if sep and head.split("/")[-1] == "deep_gemm":
            return head
    return None


def _unpack(zf: zipfile.ZipFile, dest: Path) -> None:
    """Verify every CRC, extract into a private folder beside ``dest``, then one rename (a
    concurrent build that unpacked the same wheel first wins; its folder is never touched)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        bad = zf.testzip()
        if bad is not None:
            raise zipfile.BadZipFile(f"bad CRC in {bad}")
        zf.extractall(tmp)  # zipfile drops absolute paths and '..' parts
        (tmp / ".unpacked").touch()
        try:
            os.rename(tmp, dest)
        except OSError:
            if not (dest / ".unpacked").is_file():  # not another build's finished unpack
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _download(spec: str, work: Path) -> Path:
    name, version = _SPEC.match(spec).groups()  # type: ignore[union-attr]
    dest = work / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    found = _wheels(dest, name, version)
    if found:
        return found[0]
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), spec]
    errors = []
    for extra in ((), _WHEEL_TAGS):
        try:
            done = subprocess.run(
                [*base, *extra], capture_output=True, text=True, timeout=900, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise TargetError(f"{spec}: pip download could not run ({exc})", target=spec) from None
        found = _wheels(dest, name, version)
        if found:
            return found[0]
        errors.append((done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"])
    raise TargetError(f"{spec}: pip download found no wheel ({errors[-1][0]})", target=spec)


def _wheels(folder: Path, name: str, version: str) -> list[Path]:
    stem = f"{re.sub(r'[-_.]+', '_', name)}-{version}-"
    return sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(stem.lower()))


def _read_metadata(text: str, where: str) -> tuple[str, str]:
    headers = HeaderParser().parsestr(text)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        raise TargetError(f"{where}: METADATA has no Name or Version", target=where)
    return name.strip(), version.strip()


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _default_work_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jitwarm" / "builds"
