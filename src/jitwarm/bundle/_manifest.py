"""The bundle manifest (``jitwarm-bundle.json``, the archive's first member) and its limits.

Archive layout (a tar, gzip-compressed unless the name ends in ``.tar``)::

    jitwarm-bundle.json                 this manifest
    cache/<entry>/<file>                one regular file per entry file, nothing else

``entries[].files[]`` lists every file member with its size and sha256; the archive holds
exactly those members.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jitwarm.dgenv import Layout
from jitwarm.errors import BundleError

MANIFEST_NAME = "jitwarm-bundle.json"
FORMAT = "jitwarm-bundle"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BundleLimits:
    """Caps that keep a hostile archive from filling a disk or memory."""

    max_member_bytes: int = 256 * 1024**2  # a cubin is at most a few MiB
    max_total_bytes: int = 16 * 1024**3
    max_members: int = 200_000
    max_manifest_bytes: int = 64 * 1024**2


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(_Frozen):
    """What the kernels of a cache were built with; None where it could not be found."""

    arch: str | None = None  # "sm90", "sm100"
    num_sms: int | None = None
    gpu_name: str | None = None  # informational
    deepgemm_distribution: str | None = None
    deepgemm_version: str | None = None
    deepgemm_path: str | None = None
    deepgemm_module: str | None = None  # "deep_gemm", "vllm.third_party.deep_gemm"
    deepgemm_build: str | None = None  # the build's profile id ("unknown": no profile)
    nvcc_path: str | None = None  # informational
    nvcc_version: str | None = None  # the whole `nvcc --version` output
    cuda_version: str | None = None  # nvcc release, major.minor
    key_env: dict[str, str] = Field(default_factory=dict)  # key-changing DG_JIT_* settings
    layout: Layout | None = None
    built_without_gpu: bool = False  # made by `jitwarm build` (rendered and compiled on CPUs)
    notes: list[str] = Field(default_factory=list)  # e.g. "not verified on hardware"

    @model_validator(mode="before")
    @classmethod
    def _read_profile_field(cls, data: object) -> object:
        # Session-5 GPU-free bundles named the build as "profile"; it is deepgemm_build.
        if isinstance(data, dict) and "profile" in data:
            data = dict(data)
            name = data.pop("profile")
            data["deepgemm_build"] = data.get("deepgemm_build") or name
        return data


class BundleFile(_Frozen):
    name: str
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class BundleEntry(_Frozen):
    name: str  # the folder name under cache/
    kernel_name: str
    family: str | None = None
    template_args: str | None = None
    files: list[BundleFile]

    @property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)


class BundleManifest(_Frozen):
    format: Literal["jitwarm-bundle"] = FORMAT
    format_version: int = FORMAT_VERSION
    jitwarm_version: str
    created_s: float
    layout: Layout
    provenance: Provenance
    plan_digest: str | None = None  # Plan.digest() of the plan the bundle was cut for
    plan_model: str | None = None
    entries: list[BundleEntry]

    @property
    def total_bytes(self) -> int:
        return sum(e.size_bytes for e in self.entries)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str) -> BundleManifest:
        try:
            raw = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{source}: manifest is not valid JSON ({exc})") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BundleError(f"{source}: not a jitwarm bundle manifest")
        if raw.get("format_version") != FORMAT_VERSION:
            raise BundleError(
                f"{source}: bundle format_version {raw.get('format_version')!r} is not supported "
                f"(this jitwarm reads {FORMAT_VERSION})"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise BundleError(f"{source}: invalid manifest at '{where}': {err['msg']}") from None
