"""The HTTP API of ``jitwarm serve`` (FastAPI), answered by the HTTP process.

Probes: ``/live`` (this process, always fast), ``/ready`` (warmup done), ``/health`` (the engine
loop answers a ping between two steps within ``health_timeout_s``, as SGLang's and TokenSpeed's
health checks depend on their scheduler). Serving: ``/v1/completions`` (OpenAI style, prompt as
text or token ids) and ``/generate`` (SGLang style). Discovery, for the smg gateway:
``/v1/models`` (``owned_by: sglang``), ``/server_info``, ``/get_server_info``,
``/model_info``, ``/get_model_info``. Metrics: ``/metrics``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jitwarm.server import _tokenizer as tokenizer
from jitwarm.server._bridge import EngineBridge, _EngineGone
from jitwarm.server._messages import Done
from jitwarm.server._metrics import ServerMetrics
from jitwarm.server._settings import ServerSettings

BACKEND_NAME = "sglang"  # what smg's backend detection reads from /v1/models owned_by


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    prompt: str | list[int]
    max_tokens: int = Field(16, ge=1)
    stream: bool = False


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str | None = None
    input_ids: list[int] | None = None
    sampling_params: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status_code=status
    )


def create_app(settings: ServerSettings, *, on_engine_exit: Any = None) -> FastAPI:
    metrics = ServerMetrics()
    bridge = EngineBridge(settings, metrics, on_exit=on_engine_exit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bridge.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, bridge.stop)

    app = FastAPI(title="jitwarm reference server", lifespan=lifespan)
    app.state.bridge = bridge
    app.state.metrics = metrics
    app.state.settings = settings
    started = time.time()

    def ready() -> bool:
        return bridge.alive and bridge.ready is not None

    # -- probes -------------------------------------------------------------------------------
    @app.get("/live")
    async def live() -> JSONResponse:
        if bridge.alive:
            return JSONResponse({"status": "alive"})
        return JSONResponse({"status": "engine exited"}, status_code=503)

    @app.get("/ready")
    async def readiness() -> JSONResponse:
        if ready():
            return JSONResponse(
                {"status": "ready", "warmup": bridge.ready.warmup if bridge.ready else None}
            )
        state = "failed" if bridge.failed or not bridge.alive else "warming up"
        return JSONResponse({"status": state}, status_code=503)

    @app.get("/health")
    async def health() -> Response:
        if not ready():
            metrics.health_checks.labels("not_ready").inc()
            return JSONResponse({"status": "not ready"}, status_code=503)
        if await bridge.ping(settings.health_timeout_s):
            metrics.health_checks.labels("ok").inc()
            return Response(status_code=200)
        metrics.health_checks.labels("timeout").inc()
        return JSONResponse(
            {"status": f"engine did not answer within {settings.health_timeout_s} s"},
            status_code=503,
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- discovery ----------------------------------------------------------------------------
    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": settings.model_id,
                    "object": "model",
                    "created": int(started),
                    "owned_by": BACKEND_NAME,
                    "root": settings.model_id,
                    "max_model_len": settings.max_context,
                }
            ],
        }

    @app.get("/model_info")
    @app.get("/get_model_info")
    async def model_info() -> dict[str, Any]:
        return {"model_path": settings.model_id, "tokenizer_path": None, "is_generation": True}

    @app.get("/server_info")
    @app.get("/get_server_info")
    async def server_info() -> dict[str, Any]:
        info = settings.model_dump(mode="json")
        info.update(
            model_path=settings.model_id,
            served_model_name=settings.model_id,
            ready=ready(),
            device=bridge.ready.device if bridge.ready else None,
            warmup_report=bridge.ready.warmup if bridge.ready else None,
            max_total_num_tokens=settings.max_context,
        )
        return info

    # -- serving ------------------------------------------------------------------------------
    async def run(prompt: list[int], max_tokens: int) -> Done | JSONResponse:
        if not prompt:
            return _error(400, "prompt is empty")
        bad = tokenizer.invalid_token(prompt)
        if bad is not None:
            return _error(400, f"token id {bad} is outside the byte vocabulary (0..255)")
        if len(prompt) + max_tokens > settings.max_context:
            return _error(
                400,
                f"prompt ({len(prompt)}) + max_tokens ({max_tokens}) exceeds {settings.max_context}",
            )
        if not ready():
            metrics.requests.labels("unavailable").inc()
            return _error(503, "server is not ready", "unavailable")
        try:
            done = await bridge.generate(prompt, max_tokens)
        except _EngineGone as exc:
            metrics.requests.labels("failed").inc()
            return _error(503, str(exc), "unavailable")
        metrics.requests.labels("ok").inc()
        return done

    async def parse(request: Request, model: type[BaseModel]) -> Any:
        try:
            return model.model_validate(await request.json())
        except ValidationError as exc:
            err = exc.errors()[0]
            return _error(400, f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
        except ValueError:
            return _error(400, "body is not valid JSON")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body = await parse(request, CompletionRequest)
        if isinstance(body, JSONResponse):
            return body
        if body.stream:
            return _error(400, "streaming is not supported by the reference server")
        prompt = tokenizer.encode(body.prompt) if isinstance(body.prompt, str) else body.prompt
        done = await run(prompt, body.max_tokens)
        if isinstance(done, JSONResponse):
            return done
        return {
            "id": f"cmpl-{uuid.uuid4().hex[:24]}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": settings.model_id,
            "choices": [
                {
                    "index": 0,
                    "text": tokenizer.decode(done.tokens),
                    "token_ids": done.tokens,
                    "logprobs": None,
                    "finish_reason": "length",
                }
            ],
            "usage": {
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": len(done.tokens),
                "total_tokens": done.prompt_tokens + len(done.tokens),
            },
        }

    @app.post("/generate")
    async def generate(request: Request) -> Any:
        body = await parse(request, GenerateRequest)
        if isinstance(body, JSONResponse):
            return body
        if body.stream:
            return _error(400, "streaming is not supported by the reference server")
        prompt = body.input_ids if body.input_ids is not None else tokenizer.encode(body.text or "")
        max_new = body.sampling_params.get("max_new_tokens", 16)
        if not isinstance(max_new, int) or max_new < 1:
            return _error(400, "sampling_params.max_new_tokens must be a positive integer")
        done = await run(prompt, max_new)
        if isinstance(done, JSONResponse):
            return done
        return {
            "text": tokenizer.decode(done.tokens),
            "output_ids": done.tokens,
            "meta_info": {
                "id": uuid.uuid4().hex,
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": len(done.tokens),
                "finish_reason": {"type": "length", "length": max_new},
            },
        }

    return app
