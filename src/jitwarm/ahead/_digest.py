"""DeepGEMM's own 128-bit content digest (two FNV-1a states, each finished by SplitMix64),
which it uses for the "Includes' hash value" line of every generated kernel source.

Follows DeepGEMM's `csrc/utils/hash.hpp` and the include hasher of `csrc/jit/compiler.hpp`
(upstream deepseek-ai/DeepGEMM as built into tokenspeed-deepgemm 2.5.0.post20260604; MIT, see
THIRD_PARTY_NOTICES.md)."""

from __future__ import annotations

_MASK = (1 << 64) - 1
_FNV_PRIME = 0x100000001B3
_SEEDS = (0xC6A4A7935BD1E995, 0x9E3779B97F4A7C15)


def _fnv1a(data: bytes, seed: int) -> int:
    h = seed
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return h


def _split_mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def deepgemm_digest(data: bytes | str) -> str:
    """32 lowercase hex digits, as DeepGEMM's ``get_hex_digest``."""
    raw = data.encode() if isinstance(data, str) else data
    return "".join(f"{_split_mix(_fnv1a(raw, seed)):016x}" for seed in _SEEDS)
