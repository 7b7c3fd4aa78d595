"""Reading recorded-calls manifests (written by the guard's recorder, ``JITWARM_RECORD``)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from jitwarm.errors import RecordingError
from jitwarm.guard import RECORDING_KIND, RECORDING_SCHEMA_VERSION


class RecordedCall(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    family: str
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    count: int = 1


class Recording(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["jitwarm-recording"]
    schema_version: int
    jitwarm_version: str | None = None
    pid: int | None = None
    deep_gemm_version: str | None = None
    num_sms: int | None = None
    jit_env: dict[str, str] = {}
    calls: list[RecordedCall] = []
    sources: list[str] = []  # the files merged into this recording


def dump_recording(rec: Recording) -> str:
    """The JSON form of a (merged) recording, as the recorder writes it."""
    return rec.model_dump_json(indent=1, exclude={"sources"}) + "\n"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read recording: {exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise RecordingError(
            f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})", path=path
        ) from None


def is_recording(path: str | Path) -> bool:
    """Whether ``path`` is a recorded-calls manifest, or a folder holding some (not a plan)."""
    p = Path(path)
    files = sorted(p.glob("*.json")) if p.is_dir() else [p]
    for f in files:
        try:
            raw = json.loads(f.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(raw, dict) and raw.get("kind") == RECORDING_KIND:
            return True
    return False


def _parse(raw: Any, source: Path) -> Recording:
    if not isinstance(raw, dict) or raw.get("kind") != RECORDING_KIND:
        raise RecordingError(
            f'{source}: not a jitwarm recording (no "kind": "{RECORDING_KIND}")', path=source
        )
    if raw.get("schema_version") != RECORDING_SCHEMA_VERSION:
        raise RecordingError(
            f"{source}: recording schema_version {raw.get('schema_version')!r} is not supported "
            f"(this jitwarm reads {RECORDING_SCHEMA_VERSION})",
            path=source,
        )
    try:
        rec = Recording.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise RecordingError(
            f"{source}: invalid recording at '{where}': {err['msg']}", path=source
        ) from None
    return rec.model_copy(update={"sources": [str(source)]})


def load_recording(path: str | Path) -> Recording:
    """One recording file, or every recording in a folder merged (one file per process)."""
    p = Path(path)
    if not p.exists():
        raise RecordingError(f"{p}: no such file or folder", path=p)
    if not p.is_dir():
        return _parse(_read_json(p), p)
    parts = []
    for f in sorted(p.glob("*.json")):
        raw = _read_json(f)
        if isinstance(raw, dict) and raw.get("kind") == RECORDING_KIND:
            parts.append(_parse(raw, f))
    if not parts:
        raise RecordingError(f"{p}: no jitwarm recordings (*.json) in this folder", path=p)
    return merge_recordings(parts)


def merge_recordings(parts: list[Recording]) -> Recording:
    envs = {json.dumps(r.jit_env, sort_keys=True) for r in parts}
    if len(envs) > 1:
        raise RecordingError(
            "the recordings disagree on key-changing DeepGEMM settings (jit_env): "
            + " vs ".join(sorted(envs))
        )
    sms = Counter(r.num_sms for r in parts if r.num_sms is not None)
    versions = {r.deep_gemm_version for r in parts if r.deep_gemm_version}
    calls: dict[str, RecordedCall] = {}  # the ranks of a server make the same calls
    for call in (c for r in parts for c in r.calls):
        key = json.dumps([call.family, call.args, call.kwargs], sort_keys=True)
        seen = calls.get(key)
        calls[key] = (
            call if seen is None else seen.model_copy(update={"count": seen.count + call.count})
        )
    return Recording(
        kind=RECORDING_KIND,
        schema_version=RECORDING_SCHEMA_VERSION,
        jitwarm_version=parts[0].jitwarm_version,
        deep_gemm_version=", ".join(sorted(versions)) or None,
        num_sms=sms.most_common(1)[0][0] if sms else None,
        jit_env=parts[0].jit_env,
        calls=list(calls.values()),
        sources=[s for r in parts for s in r.sources],
    )
