"""Plot an e2e result (benchmarks/results/e2e.json, or e2e-cpu-sim.json): one panel per measure, one bar per startup mode.

.venv/bin/python benchmarks/e2e/plot_e2e.py benchmarks/results/e2e.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PANELS = (
    ("time_to_ready_s", "time to ready (s)"),
    ("first_request_s", "first request, 300 tokens (s)"),
    ("p50_s", "p50 latency (s)"),
    ("p99_s", "p99 latency (s)"),
    ("inline_compiles_total", "inline compiles while serving"),
    ("smg_evictions", "smg evictions"),
    ("prober_deaths", "model-path prober deaths"),
    ("requests_failed", "failed requests"),
)
COLORS = {"none": "#9e9e9e", "dense": "#e07b39", "jitwarm": "#2e7d32", "bundle": "#1565c0"}


def plot(report: dict[str, Any], out: Path) -> None:
    modes = list(report["modes"])
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
    for ax, (key, title) in zip(axes.flat, PANELS, strict=True):
        values = [report["modes"][m].get(key) for m in modes]
        bars = ax.bar(modes, [v or 0 for v in values], color=[COLORS.get(m, "#555") for m in modes])
        for bar, v in zip(bars, values, strict=True):
            text = "n/a" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
    cfg = report["config"]
    fig.suptitle(
        f"jitwarm serve end to end [{report['label']}] - {cfg['model']} tp{cfg['tp']}, "
        f"{cfg['layers']} layers, max batched tokens {cfg['max_batched_tokens']}, "
        f"{cfg['requests']} requests x {cfg['max_running_seqs']} clients; outputs identical: "
        f"{report['outputs']['identical']}",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/e2e.json")
    plot(json.loads(path.read_text()), path.with_suffix(".png"))
