"""DeepJIT's content hash (``deep_jit::hash::FNV1a`` in utils/hash.hpp of tokenspeed-deepjit
0.1.0, MIT): two 64-bit FNV-1a-style lanes over the same bytes, every update prefixed by its
length as 8 little-endian bytes, each lane finished by SplitMix64 and printed as 16 hex digits."""

from __future__ import annotations

_MASK = (1 << 64) - 1
_SEED_0, _PRIME_0 = 0xC6A4A7935BD1E995, 0x100000001B3
_SEED_1, _PRIME_1 = 0xFF51AFD7ED558CCD, 0x9E3779B97F4A7C15


def _split_mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class DeepJitHash:
    """A running hash; ``update`` chains pieces (each with its length), as DeepJIT's does."""

    __slots__ = ("_s0", "_s1")

    def __init__(self) -> None:
        self._s0 = _SEED_0
        self._s1 = _SEED_1

    def copy(self) -> DeepJitHash:
        out = DeepJitHash()
        out._s0, out._s1 = self._s0, self._s1
        return out

    def update(self, data: bytes | str) -> DeepJitHash:
        raw = data.encode() if isinstance(data, str) else data
        s0, s1 = self._s0, self._s1
        for byte in len(raw).to_bytes(8, "little") + raw:
            s0 = ((s0 ^ byte) * _PRIME_0) & _MASK
            s1 = ((s1 ^ byte) * _PRIME_1) & _MASK
        self._s0, self._s1 = s0, s1
        return self

    def hexdigest(self) -> str:
        return f"{_split_mix(self._s0):016x}{_split_mix(self._s1):016x}"


def deepjit_digest(data: bytes | str) -> str:
    """``deep_jit::hash::get_hex_digest``: the digest of one update."""
    return DeepJitHash().update(data).hexdigest()
