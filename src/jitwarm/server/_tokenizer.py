"""The byte tokenizer of the reference server: token id = byte value (vocabulary of 256)."""

from __future__ import annotations

VOCAB_SIZE = 256


def encode(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def decode(tokens: list[int]) -> str:
    return bytes(tokens).decode("utf-8", errors="replace")


def invalid_token(tokens: list[int]) -> int | None:
    """The first token outside the vocabulary, or None."""
    return next((t for t in tokens if not 0 <= t < VOCAB_SIZE), None)
