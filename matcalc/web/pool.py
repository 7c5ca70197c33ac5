"""A bounded pool of warm worker processes for the API's requests.

Each worker is a process that has imported matcalc and SymPy once and answered one request
to warm itself (:func:`matcalc.web.worker.serve`); it then reads requests from a pipe, one
at a time.  The pool holds ``workers`` of them, so at most that many requests are computed
at once; up to ``queue`` more wait for a free worker, each at most ``wait_seconds``, and a
request beyond that is refused at once with :class:`Busy` (the server's 503 with
``Retry-After``), never left hanging.

A request that runs past ``seconds`` has its worker killed — with the processes it forked
for the SymPy check, its whole process group — and replaced; so is the worker of a request
whose caller gave up (its task was cancelled: the browser went away, or the page sent a
newer request).  Workers are forked from a ``forkserver`` that has imported the heavy
modules already (:data:`matcalc.web.worker.WARM_MODULES`), so a replacement is ready in a
fraction of a second; where there is no forkserver (Windows), they are spawned.

Everything here runs on the server's event loop except starting and killing processes,
which run in threads.  Standard library only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from typing import Any

from . import worker

log = logging.getLogger("matcalc.web")

#: seconds a new worker has to import what it needs and answer its warm-up request
START_SECONDS = 120.0
#: a 503's Retry-After (seconds)
RETRY_SECONDS = 2


class Busy(Exception):
    """Every worker is busy and the queue is full, or a request waited too long for a worker."""

    def __init__(self, message: str, retry_after: int = RETRY_SECONDS):
        super().__init__(message)
        self.retry_after = retry_after


class Stopped(Exception):
    """A request ran past the time limit: its worker was killed."""


class WorkerDied(Exception):
    """A worker stopped without answering (killed from outside, or out of memory)."""


#: one thread of BLAS per worker: the pool's size is the parallelism
_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _context() -> Any:
    """The forkserver context, its server started and preloading the heavy modules; else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(worker.WARM_MODULES))
    # the forkserver takes the environment it is started with (it is started once per
    # process; a later pool finds it running): one BLAS thread, for it and so for the workers
    saved = {name: os.environ.get(name) for name in _ONE_THREAD}
    try:
        for name in _ONE_THREAD:
            os.environ.setdefault(name, "1")
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
    return ctx


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx: Any, target: Callable[[Connection], None]):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(child,), name="matcalc-web-worker")
        self.process.start()
        child.close()

    @classmethod
    def start(cls, ctx: Any, target: Callable[[Connection], None]) -> _Worker:
        """A new worker, once it has said it is ready (blocking: run it in a thread)."""
        w = cls(ctx, target)
        try:
            if not w.conn.poll(START_SECONDS):
                raise WorkerDied(f"a worker was not ready after {START_SECONDS:g} s")
            if w.conn.recv_bytes() != worker.READY:
                raise WorkerDied("a worker did not start properly")
        except (EOFError, OSError) as err:
            w.kill()
            raise WorkerDied(f"a worker stopped while starting: {err or type(err).__name__}") from None
        except BaseException:
            w.kill()
            raise
        return w

    def kill(self) -> None:
        """Kill the worker and what it forked (its process group), and wait for it (blocking)."""
        pid = self.process.pid
        if pid is not None and self.process.exitcode is None:
            try:
                os.killpg(pid, signal.SIGKILL)  # the worker leads a group of its own
            except (OSError, AttributeError):
                self.process.kill()
        self.process.join(10)
        self.conn.close()


class Pool:
    """At most ``workers`` requests computed at once, ``queue`` more waiting; see the module."""

    def __init__(self, workers: int, queue: int, seconds: float, wait_seconds: float,
                 target: Callable[[Connection], None] = worker.serve):
        if workers < 1 or queue < 0:
            raise ValueError("a pool needs at least one worker and a queue of zero or more")
        self.workers = workers
        self.queue = queue
        self.seconds = seconds
        self.wait_seconds = wait_seconds
        self._target = target
        self._ctx = _context()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._waiters: collections.deque[asyncio.Future[_Worker]] = collections.deque()
        self._restarts: set[asyncio.Task[None]] = set()
        self._closed = False

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Start every worker and wait until all are warm."""
        loop = asyncio.get_running_loop()
        started = await asyncio.gather(*(loop.run_in_executor(None, _Worker.start, self._ctx, self._target)
                                         for _ in range(self.workers)), return_exceptions=True)
        failed = [s for s in started if isinstance(s, BaseException)]
        for w in started:
            if isinstance(w, _Worker):
                self._all.add(w)
                self._release(w)
        if failed:
            await self.close()
            raise failed[0]

    async def close(self) -> None:
        """Kill every worker; requests waiting for one are refused."""
        self._closed = True
        for task in list(self._restarts):
            task.cancel()
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(Busy("the server is stopping"))
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, w.kill) for w in list(self._all)))
        self._all.clear()
        self._idle.clear()

    @property
    def waiting(self) -> int:
        """Requests waiting for a worker."""
        return sum(not f.done() for f in self._waiters)

    @property
    def idle(self) -> int:
        """Workers waiting for a request."""
        return len(self._idle)

    # ------------------------------------------------------------------ requests

    async def ask(self, body: bytes) -> bytes:
        """The worker's answer to one request (JSON bytes in, JSON bytes out).

        Raises :class:`Busy` (no worker in time), :class:`Stopped` (past the time limit) or
        :class:`WorkerDied`; cancelled, it kills the worker that was computing it."""
        w = await self._acquire()
        try:
            answer = await self._exchange(w, body)
        except BaseException:
            self._replace(w)
            raise
        self._release(w)
        return answer

    async def _exchange(self, w: _Worker, body: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            w.conn.send_bytes(body)  # an idle worker is blocked reading its pipe: this does not wait
        except OSError as err:
            raise WorkerDied(f"a worker had stopped: {err}") from None
        ready: asyncio.Future[None] = loop.create_future()
        fd = w.conn.fileno()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, self.seconds)
        except asyncio.TimeoutError:
            raise Stopped(f"the request took longer than {self.seconds:g} s and was stopped") from None
        finally:
            loop.remove_reader(fd)
        try:
            return w.conn.recv_bytes()
        except (EOFError, OSError):
            raise WorkerDied("matcalc's worker stopped without answering") from None

    async def _acquire(self) -> _Worker:
        if self._closed:
            raise Busy("the server is stopping")
        if self._idle:
            return self._idle.pop()
        if self.waiting >= self.queue:
            raise Busy(f"all {self.workers} workers are busy and {self.queue} requests are waiting")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_Worker] = loop.create_future()
        self._waiters.append(fut)

        def expire() -> None:
            if not fut.done():
                fut.set_exception(Busy(f"no worker was free within {self.wait_seconds:g} s"))

        timer = loop.call_later(self.wait_seconds, expire)
        try:
            return await fut
        except asyncio.CancelledError:
            # handed a worker just as the caller gave up: give it to the next one
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._release(fut.result())
            raise
        finally:
            timer.cancel()
            try:
                self._waiters.remove(fut)
            except ValueError:
                pass

    def _release(self, w: _Worker) -> None:
        """Give a free worker to the first request still waiting, or keep it idle."""
        if self._closed:  # close() has killed it
            return
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(w)
                return
        self._idle.append(w)

    def _replace(self, w: _Worker) -> None:
        """Kill ``w`` and start another in its place (in the background)."""
        self._all.discard(w)
        task = asyncio.ensure_future(self._restart(w))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart(self, old: _Worker) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, old.kill)
        pause = 0.5
        while not self._closed:
            try:
                new = await loop.run_in_executor(None, _Worker.start, self._ctx, self._target)
            except Exception as err:  # noqa: BLE001 - said, and tried again
                log.error("matcalc could not start a worker (%s); trying again in %g s", err, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            if self._closed:
                await loop.run_in_executor(None, new.kill)
                return
            self._all.add(new)
            self._release(new)
            return
