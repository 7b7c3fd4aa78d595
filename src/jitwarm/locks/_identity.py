"""Who holds a lease: this kernel (boot), this pid namespace, this process."""

from __future__ import annotations

import functools
import json
import os
import socket
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Holder:
    """What a lease file says about its holder. ``boot`` is the kernel's boot id: the same in
    every container of one machine, so two holders with one ``boot`` share one lock manager and
    flock between them is authoritative; ``pidns`` says whether ``pid`` means the same process."""

    boot: str
    pidns: str
    pid: int
    host: str

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Holder | None:
        try:
            raw = json.loads(data)
            return cls(str(raw["boot"]), str(raw["pidns"]), int(raw["pid"]), str(raw["host"]))
        except (ValueError, KeyError, TypeError):
            return None  # half-written or foreign: judged by its age alone

    def same_machine(self, other: Holder) -> bool:
        return bool(self.boot) and self.boot == other.boot

    def same_pid_space(self, other: Holder) -> bool:
        return self.same_machine(other) and bool(self.pidns) and self.pidns == other.pidns


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return ""


@functools.lru_cache(maxsize=1)
def _machine() -> tuple[str, str, str]:
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = ""
    return _read("/proc/sys/kernel/random/boot_id"), pidns, socket.gethostname()


def this_holder() -> Holder:
    boot, pidns, host = _machine()
    return Holder(boot, pidns, os.getpid(), host)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True
