"""Prometheus metrics of the HTTP process, fed by the engine's reports.

``jitwarm_inline_compiles_total{family}`` counts kernels compiled after readiness (on the
serving path): the number jitwarm exists to keep at zero. It has the name and meaning of the
guard's counter (``jitwarm.guard``); the guard runs in the engine process on the GPU, and its
events are forwarded here, since this HTTP process serves ``/metrics``. In CPU mode the counts
come from the simulated JIT.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from jitwarm.server._messages import CompileCount, StepReport


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.inline_compiles = Counter(
            "jitwarm_inline_compiles",
            "DeepGEMM kernels compiled after readiness (serving path)",
            ["family"],
            registry=r,
        )
        self.compiles = Counter(
            "jitwarm_kernel_compiles",
            "DeepGEMM kernels compiled, by phase (warmup or serving)",
            ["family", "phase"],
            registry=r,
        )
        self.compile_seconds = Counter(
            "jitwarm_kernel_compile_seconds",
            "Seconds the engine spent compiling, by phase",
            ["phase"],
            registry=r,
        )
        self.kernel_loads = Counter(
            "jitwarm_kernel_loads", "Kernels loaded from the disk cache", ["phase"], registry=r
        )
        self.steps = Counter("jitwarm_engine_steps", "Engine steps run", ["phase"], registry=r)
        self.step_seconds = Histogram(
            "jitwarm_engine_step_seconds",
            "Wall time of one engine step",
            ["phase"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.requests = Counter("jitwarm_requests", "Completion requests", ["status"], registry=r)
        self.health_checks = Counter(
            "jitwarm_health_checks", "GET /health results", ["result"], registry=r
        )
        self.running = Gauge("jitwarm_running_sequences", "Sequences decoding", registry=r)
        self.waiting = Gauge(
            "jitwarm_waiting_sequences", "Sequences waiting for prefill", registry=r
        )
        self.ready = Gauge("jitwarm_ready", "1 once warmup is done", registry=r)
        self.warmup_seconds = Gauge("jitwarm_warmup_seconds", "Seconds the warmup took", registry=r)

    def on_compiles(self, counts: list[CompileCount]) -> None:
        for c in counts:
            phase = "serving" if c.serving else "warmup"
            if c.kind == "compile":
                self.compiles.labels(c.family, phase).inc()
                self.compile_seconds.labels(phase).inc(c.seconds)
                if c.serving:
                    self.inline_compiles.labels(c.family).inc()
            else:
                self.kernel_loads.labels(phase).inc()

    def on_step(self, report: StepReport) -> None:
        self.steps.labels(report.phase).inc()
        self.step_seconds.labels(report.phase).observe(report.seconds)
        self.running.set(report.running)
        self.waiting.set(report.waiting)
        self.on_compiles(report.compiles)

    def inline_compile_total(self) -> int:
        return int(
            sum(
                s.value
                for m in self.inline_compiles.collect()
                for s in m.samples
                if s.name.endswith("_total")
            )
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
