"""Continuous batching: which sequences run in the next step. Pure Python.

A step is either a prefill step (chunks of prompts, at most ``max_batched_tokens`` tokens) or a
decode step (one token for every running sequence). When both kinds of work wait, the steps
alternate so neither starves. At most ``max_running_seqs`` sequences are admitted at once, so
a decode step has M = 1..max_running_seqs rows and a prefill step 1..max_batched_tokens rows:
exactly the domains the plan covers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Sequence:
    rid: int
    prompt: list[int]
    max_tokens: int
    prefilled: int = 0
    output: list[int] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return len(self.output) >= self.max_tokens


@dataclass(frozen=True)
class StepItem:
    seq: Sequence
    tokens: list[int]
    wants_token: bool


@dataclass(frozen=True)
class Step:
    phase: str  # "prefill" or "decode"
    items: list[StepItem]

    @property
    def rows(self) -> int:
        return sum(len(i.tokens) for i in self.items)


class Scheduler:
    def __init__(self, *, max_batched_tokens: int, max_running_seqs: int) -> None:
        self.max_batched_tokens = max_batched_tokens
        self.max_running_seqs = max_running_seqs
        self.waiting: deque[Sequence] = deque()  # not yet fully prefilled, in arrival order
        self.running: list[Sequence] = []  # decoding
        self._last_phase = "decode"

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def next_step(self) -> Step | None:
        prefill = self._prefill_step()
        if prefill is not None and (not self.running or self._last_phase == "decode"):
            return prefill
        if self.running:
            return Step("decode", [StepItem(s, [s.output[-1]], True) for s in self.running])
        return prefill

    def _prefill_step(self) -> Step | None:
        budget = self.max_batched_tokens
        slots = self.max_running_seqs - len(self.running)
        items: list[StepItem] = []
        for seq in self.waiting:
            if budget == 0 or len(items) == slots:
                break
            chunk = seq.prompt[seq.prefilled : seq.prefilled + budget]
            items.append(StepItem(seq, chunk, seq.prefilled + len(chunk) == len(seq.prompt)))
            budget -= len(chunk)
        return Step("prefill", items) if items else None

    def commit(self, step: Step, tokens: list[int | None]) -> list[Sequence]:
        """Apply a step's sampled tokens; returns the sequences that finished."""
        self._last_phase = step.phase
        finished: list[Sequence] = []
        for item, token in zip(step.items, tokens, strict=True):
            seq = item.seq
            if step.phase == "prefill":
                seq.prefilled += len(item.tokens)
                if not item.wants_token:
                    continue
                self.waiting.remove(seq)
                self.running.append(seq)
            assert token is not None
            seq.output.append(token)
            if seq.finished:
                self.running.remove(seq)
                finished.append(seq)
        return finished
