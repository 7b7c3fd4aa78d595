"""``KernelLocks``: one lock per kernel id under a cache root (see the package docstring)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from jitwarm.errors import EnvValueError
from jitwarm.locks import _lease

log = logging.getLogger(__name__)

LOCKS_DIR = "jitwarm-locks"
MODE_VAR = "JITWARM_LOCKS"
WAIT_VAR = "JITWARM_LOCK_WAIT_S"
LEASE_VAR = "JITWARM_LOCK_LEASE_S"

# flock is not implemented here (some FUSE and older network filesystems): leases only.
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL}
_POLL_FIRST_S, _POLL_MAX_S = 0.02, 0.25
# Roots this process has warned about: one line per root, however many lock scopes fail there.
_WARNED: set[Path] = set()


class _State(Enum):
    HELD = "held"
    CONTENDED = "contended"  # held now, after another process had it
    TIMED_OUT = "timed out"
    UNAVAILABLE = "unavailable"


class LockMode(str, Enum):
    AUTO = "auto"  # flock, plus a lease for filesystems whose flock stays on one host
    FLOCK = "flock"  # flock only: local disks, network filesystems known to honour it
    LEASE = "lease"  # lease files only
    OFF = "off"  # no locks: concurrent warms may compile a kernel twice


@dataclass(frozen=True)
class LockSettings:
    """``wait_s``: the longest a process waits for a kernel another holds before it compiles the
    kernel itself (a hung holder); ``lease_s``: how long an unchanged lease of another machine
    is trusted (its holder touches it every ``heartbeat_s``)."""

    mode: LockMode = LockMode.AUTO
    wait_s: float = 300.0
    lease_s: float = 60.0
    heartbeat_s: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LockSettings:
        env = os.environ if env is None else env
        raw = env.get(MODE_VAR, "") or LockMode.AUTO.value
        try:
            mode = LockMode(raw.lower())
        except ValueError:
            choices = "|".join(m.value for m in LockMode)
            raise EnvValueError(MODE_VAR, raw, choices) from None
        return cls(
            mode=mode,
            wait_s=_seconds(env, WAIT_VAR, cls.wait_s),
            lease_s=_seconds(env, LEASE_VAR, cls.lease_s),
        )


def _seconds(env: Mapping[str, str], var: str, default: float) -> float:
    raw = env.get(var, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise EnvValueError(var, raw, "a number of seconds > 0")
    return value


@dataclass(frozen=True)
class Hold:
    """What taking a kernel's lock found.

    ``exclusive``: no other process holds it now (False: locking is unavailable or the wait
    ran out, and the caller goes on anyway: duplicate work is possible, nothing worse).
    ``contended``: another process held it when asked, so whatever the caller now finds
    published was most likely compiled elsewhere. ``waited_s``: time spent waiting.
    """

    kernel_id: str
    exclusive: bool
    contended: bool
    waited_s: float


class KernelLocks:
    """Per-kernel locks in ``<cache root>/jitwarm-locks/<scope>/``.

    The pattern for anything that compiles a kernel (warm's workers, compiling ahead, a
    GPU-free build)::

        with locks.hold(kernel_id) as held:
            if published(kernel):          # someone else compiled it while we waited
                return "compiled elsewhere" if held.contended else "cached"
            compile_and_publish(kernel)    # atomic publish, as without the lock

    Picklable (a pool's workers get it); each process keeps its own heartbeat thread.
    """

    def __init__(
        self,
        cache_root: str | os.PathLike[str],
        *,
        scope: str = "kernels",
        settings: LockSettings | None = None,
    ) -> None:
        self.cache_root = Path(cache_root)
        self.scope = scope
        self.settings = settings or LockSettings.from_env()
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._mutex = threading.Lock()
        self._local: dict[str, threading.Lock] = {}  # threads of this process, per lock file
        self._leases: set[Path] = set()
        self._heartbeat: threading.Thread | None = None
        self._flock_ok = self.settings.mode in (LockMode.AUTO, LockMode.FLOCK)
        self._use_lease = self.settings.mode in (LockMode.AUTO, LockMode.LEASE)
        self._unavailable: str | None = "off" if self.settings.mode == LockMode.OFF else None
        self._probed = False

    def __getstate__(self) -> dict[str, Any]:
        return {"cache_root": self.cache_root, "scope": self.scope, "settings": self.settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    @property
    def directory(self) -> Path:
        return self.cache_root / LOCKS_DIR / self.scope

    def path(self, kernel_id: str) -> Path:
        """The lock file of ``kernel_id`` (any string: it is hashed)."""
        return self.directory / f"{hashlib.sha256(kernel_id.encode()).hexdigest()[:40]}.lock"

    def usable(self) -> bool:
        """Whether locks can be taken here; if not, logs one warning (once per cache root and
        process)."""
        # Under the mutex: a second thread must not take a lock in a folder the first has
        # not made yet (its open would fail and turn locking off for the whole process).
        with self._mutex:
            if self._unavailable is None and not self._probed:
                try:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    probe = self.directory / ".probe"
                    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o666)
                    os.close(fd)
                except OSError as exc:
                    self._give_up(f"{type(exc).__name__}: {exc.strerror or exc}")
                self._probed = True
        return self._unavailable is None

    def _give_up(self, reason: str) -> None:
        if self._unavailable is None:
            self._unavailable = reason
            if self.cache_root in _WARNED:
                return
            _WARNED.add(self.cache_root)
            log.warning(
                "cannot lock kernels under %s (%s): concurrent warms may compile the same "
                "kernel twice",
                self.directory,
                reason,
            )

    @contextlib.contextmanager
    def hold(
        self,
        kernel_id: str,
        *,
        wait_s: float | None = None,
        abandon: Callable[[], bool] | None = None,
    ) -> Iterator[Hold]:
        """Hold ``kernel_id``'s lock for the block, waiting while another process holds it
        (at most ``wait_s``, default the settings', or until ``abandon()`` says to stop). Never
        raises for a lock that cannot be taken: the block then runs with ``exclusive=False``."""
        start = time.monotonic()
        limit = start + (self.settings.wait_s if wait_s is None else wait_s)

        def expired() -> bool:
            return time.monotonic() >= limit or (abandon is not None and abandon())

        if not self.usable():
            yield Hold(kernel_id, False, False, 0.0)
            return
        path = self.path(kernel_id)
        local = self._thread_lock(path)
        contended = not local.acquire(blocking=False)
        if contended and not local.acquire(timeout=max(0.0, limit - time.monotonic())):
            yield self._timed_out(kernel_id, start)
            return
        try:
            fd, lease, state = self._take(path, expired)
            try:
                if state is _State.TIMED_OUT and abandon is not None and abandon():
                    yield Hold(kernel_id, False, True, time.monotonic() - start)
                elif state is _State.TIMED_OUT:
                    yield self._timed_out(kernel_id, start)
                elif state is _State.UNAVAILABLE:
                    yield Hold(kernel_id, False, contended, time.monotonic() - start)
                else:
                    busy = contended or state is _State.CONTENDED
                    yield Hold(kernel_id, True, busy, time.monotonic() - start)
            finally:
                self._release(fd, lease)
        finally:
            local.release()

    @contextlib.contextmanager
    def try_hold(self, kernel_id: str) -> Iterator[Hold | None]:
        """As :meth:`hold`, without waiting: ``None`` when another process (or thread) holds
        the kernel now, so the caller can compile something else first and come back."""
        if not self.usable():
            yield Hold(kernel_id, False, False, 0.0)
            return
        path = self.path(kernel_id)
        local = self._thread_lock(path)
        if not local.acquire(blocking=False):
            yield None
            return
        try:
            fd, lease, state = self._take(path, lambda: True)
            try:
                if state is _State.TIMED_OUT:
                    yield None
                elif state is _State.UNAVAILABLE:
                    yield Hold(kernel_id, False, False, 0.0)
                else:
                    yield Hold(kernel_id, True, state is _State.CONTENDED, 0.0)
            finally:
                self._release(fd, lease)
        finally:
            local.release()

    def _thread_lock(self, path: Path) -> threading.Lock:
        """What the threads of this process queue on before taking the file lock."""
        with self._mutex:
            return self._local.setdefault(str(path), threading.Lock())

    def _release(self, fd: int | None, lease: Path | None) -> None:
        if lease is not None:
            with self._mutex:
                self._leases.discard(lease)
            _lease.release(lease)
        if fd is not None:
            os.close(fd)  # releases the flock

    def _timed_out(self, kernel_id: str, start: float) -> Hold:
        waited = time.monotonic() - start
        log.warning(
            "waited %.0f s for kernel %s, held by another process; compiling it here too",
            waited,
            kernel_id,
        )
        return Hold(kernel_id, False, True, waited)

    def _take(
        self, path: Path, expired: Callable[[], bool]
    ) -> tuple[int | None, Path | None, _State]:
        """(flock fd, lease path, state). Falls back to leases alone where flock is not
        implemented, to no lock where the files cannot be made; nothing is held when the state
        is TIMED_OUT or UNAVAILABLE, except a flock taken before a lease could not be made."""
        busy = False
        poll = _POLL_FIRST_S
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            self._give_up(f"{type(exc).__name__}: {exc.strerror or exc}")
            return None, None, _State.UNAVAILABLE
        while self._flock_ok:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                busy = True
            except OSError as exc:
                if exc.errno not in _NO_FLOCK:
                    os.close(fd)
                    self._give_up(f"flock: {exc.strerror or exc}")
                    return None, None, _State.UNAVAILABLE
                self._flock_ok, self._use_lease = False, True
                log.info("flock is not supported under %s: using lease files", path.parent)
                break
            if expired():
                os.close(fd)
                return None, None, _State.TIMED_OUT
            time.sleep(poll)
            poll = min(_POLL_MAX_S, poll * 1.5)
        held = _State.CONTENDED if busy else _State.HELD
        if not self._use_lease:
            return fd, None, held
        lease = path.with_suffix(".lease")
        watch = _lease.LeaseWatch()
        while True:
            try:
                if _lease.try_take(lease):
                    break
            except OSError as exc:
                if self._flock_ok:  # the flock still serialises this machine
                    self._use_lease = False
                    log.info("no lease files under %s (%s): flock only", path.parent, exc)
                    return fd, None, held
                os.close(fd)
                self._give_up(f"lease: {exc.strerror or exc}")
                return None, None, _State.UNAVAILABLE
            if _lease.is_stale(
                lease, watch, expiry_s=self.settings.lease_s, flock_held=self._flock_ok
            ):
                log.info("breaking the abandoned lease %s", lease)
                _lease.break_lease(lease)
                continue
            held = _State.CONTENDED
            if expired():
                os.close(fd)
                return None, None, _State.TIMED_OUT
            time.sleep(poll)
            poll = min(_POLL_MAX_S, poll * 1.5)
        with self._mutex:
            self._leases.add(lease)
            if self._heartbeat is None or not self._heartbeat.is_alive():
                self._heartbeat = threading.Thread(
                    target=self._beat, name="jitwarm-lock-heartbeat", daemon=True
                )
                self._heartbeat.start()
        return fd, lease, held

    def _beat(self) -> None:
        while True:
            time.sleep(self.settings.heartbeat_s)
            with self._mutex:
                held = list(self._leases)
            for lease in held:
                _lease.refresh(lease)
