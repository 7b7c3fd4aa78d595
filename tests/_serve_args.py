"""Flags of a small CPU-mode `jitwarm serve` shared by the server tests: real TP-8 shapes,
shrunk widths, short budgets, so a test server starts and answers in seconds."""

SMALL_SERVE_ARGS = [
    "--tp",
    "8",
    "--max-batched-tokens",
    "256",
    "--max-running-seqs",
    "16",
    "--cpu-shrink",
    "32",
    "--device",
    "cpu",
]
