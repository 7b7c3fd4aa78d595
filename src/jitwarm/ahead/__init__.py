"""Compiling ahead: nvcc runs for every kernel warm can render exactly, started in the warm's
own process before its workers have imported torch; the workers' DeepGEMM takes the cubins
through jitwarm's nvcc interposer in hand-over mode (``jitwarm.interposer``, which also
holds the stage's folder protocol, ``Stage``). Imports neither torch nor deep_gemm."""

from jitwarm.ahead._compiler import AheadCompiler, AheadJob, AheadStats, plan_jobs
from jitwarm.ahead._source import SourceRenderer
from jitwarm.interposer import Stage, compile_key

__all__ = [
    "AheadCompiler",
    "AheadJob",
    "AheadStats",
    "SourceRenderer",
    "Stage",
    "compile_key",
    "plan_jobs",
]
