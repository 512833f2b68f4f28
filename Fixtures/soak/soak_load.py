"""The soak's load: per path a fixed-rate churn (connect, handshake, echo, close handshake, then a
plain GET) and a pool of held WebSockets that each echo one message every `ping_period` seconds.
Every outcome is counted; nothing is retried or ignored. Loops are bounded: the churn never has
more than `max_in_flight` cycles open per path (a tick that finds the limit reached is counted as
skipped), and every network step has a timeout.
"""
import asyncio
import os
import random
from collections import Counter
from dataclasses import dataclass, field

from soak_wire import WebSocket, WireError, http_get

MAX_ERROR_KINDS = 40
EXAMPLES_PER_KIND = 1


@dataclass
class PathStats:
    ws_ok: int = 0
    ws_fail: int = 0
    get_ok: int = 0
    get_fail: int = 0
    skipped: int = 0          # churn ticks dropped because max_in_flight cycles were still open
    held_target: int = 0
    held_open: int = 0
    held_open_fail: int = 0   # held connections that could not be opened
    held_lost: int = 0        # held connections whose periodic or final echo failed
    held_echo_ok: int = 0
    held_close_ok: int = 0
    held_close_fail: int = 0
    errors: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def cycles(self) -> int:
        """Churn cycles run so far (each does a WebSocket cycle, a GET or both)."""
        return max(self.ws_ok + self.ws_fail, self.get_ok + self.get_fail)

    def failures(self) -> int:
        return self.ws_fail + self.get_fail + self.held_open_fail + self.held_lost + self.held_close_fail

    def record(self, where: str, exc: BaseException):
        kind = f"{where}: {exc.kind}" if isinstance(exc, WireError) else f"{where}: {type(exc).__name__}"
        if kind in self.errors or len(self.errors) < MAX_ERROR_KINDS:
            self.errors[kind] += 1
            self.examples.setdefault(kind, str(exc)[:200])
        else:
            self.errors["(other kinds)"] += 1


def random_message(rng: random.Random):
    """A text or binary message of 0..4 KiB, mostly small, never the same twice."""
    n = min(int(rng.expovariate(1 / 256)), 4096)
    if rng.random() < 0.5:
        return os.urandom(n), False
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ☃é0123456789") for _ in range(n)).encode(), True


class Load:
    MAX_IN_FLIGHT = 64

    def __init__(self, host, port, paths, stats, timeout=15.0, max_in_flight=MAX_IN_FLIGHT, seed=1, mix="both"):
        self.host, self.port = host, port
        self.mix = mix   # "both", or "ws"/"get" alone: to tell which kind of request leaks
        self.paths = {p.name: p for p in paths}
        self.stats = stats
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.rng = random.Random(seed)
        self.held = {p.name: [] for p in paths}
        self.in_flight = {p.name: set() for p in paths}   # open churn cycles, sampled with the rest

    # ------------------------------------------------------------ one cycle

    async def ws_cycle(self, name):
        p, s = self.paths[name], self.stats[name]
        ws = None
        try:
            async with asyncio.timeout(self.timeout):
                ws = await WebSocket.open(self.host, self.port, p.ws_url)
                for _ in range(2):
                    await ws.echo(*random_message(self.rng))
                await ws.close()
            s.ws_ok += 1
        except (Exception, TimeoutError) as e:
            s.ws_fail += 1
            s.record("ws", e)
        finally:
            if ws:
                ws.abort()

    async def get_cycle(self, name):
        p, s = self.paths[name], self.stats[name]
        try:
            async with asyncio.timeout(self.timeout):
                status, _, body = await http_get(self.host, self.port, p.get_url)
            if status != p.get_status:
                raise WireError(f"get-status-{status}")
            if p.get_body not in body:
                raise WireError("get-body", repr(body[:60]))
            s.get_ok += 1
        except (Exception, TimeoutError) as e:
            s.get_fail += 1
            s.record("get", e)

    async def cycle(self, name):
        if self.mix != "get":
            await self.ws_cycle(name)
        if self.mix != "ws":
            await self.get_cycle(name)

    # ------------------------------------------------------------ churn

    async def churn(self, name, rate, stop: asyncio.Event):
        """`rate` cycles per second, open loop: the schedule does not wait for slow cycles."""
        loop = asyncio.get_running_loop()
        interval, tasks = 1.0 / rate, self.in_flight[name]
        next_tick = loop.time()
        while not stop.is_set():
            if len(tasks) < self.max_in_flight:
                t = asyncio.create_task(self.cycle(name))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            else:
                self.stats[name].skipped += 1
            next_tick += interval
            delay = next_tick - loop.time()
            if delay < -1.0:                     # more than a second behind: drop the backlog, count it
                missed = int(-delay / interval)
                self.stats[name].skipped += missed
                next_tick += missed * interval
                delay = next_tick - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
        if tasks:
            await asyncio.wait(set(tasks), timeout=self.timeout + 5)

    # ------------------------------------------------------------ held connections

    async def open_held(self, counts: dict, opens_per_second: float, concurrency=32):
        """Opens counts[path] WebSockets per path (interleaved), each verified with one echo."""
        order = [name for name, n in counts.items() for _ in range(n)]
        random.Random(2).shuffle(order)
        sem = asyncio.Semaphore(concurrency)
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one(i, name):
            await asyncio.sleep(max(0.0, start + i / opens_per_second - loop.time()))
            async with sem:
                s = self.stats[name]
                ws = None
                try:
                    async with asyncio.timeout(self.timeout):
                        ws = await WebSocket.open(self.host, self.port, self.paths[name].ws_url)
                        await ws.echo(*random_message(self.rng))
                    self.held[name].append(ws)
                    s.held_open += 1
                except (Exception, TimeoutError) as e:
                    if ws:
                        ws.abort()
                    s.held_open_fail += 1
                    s.record("held-open", e)

        for name, n in counts.items():
            self.stats[name].held_target = n
        await asyncio.gather(*(one(i, name) for i, name in enumerate(order)))

    async def _held_echo(self, name, ws) -> bool:
        s = self.stats[name]
        try:
            async with asyncio.timeout(self.timeout):
                await ws.echo(*random_message(self.rng))
            s.held_echo_ok += 1
            return True
        except (Exception, TimeoutError) as e:
            ws.abort()
            s.held_lost += 1
            s.held_open -= 1
            s.record("held-echo", e)
            return False

    async def ping_held(self, period: float, stop: asyncio.Event, step=0.5):
        """Every held connection echoes one message per `period`, spread evenly over the period."""
        cursor = {name: 0.0 for name in self.held}
        while not stop.is_set():
            batch = []
            for name, conns in self.held.items():
                cursor[name] += len(conns) * step / period
                k = int(cursor[name])
                cursor[name] -= k
                for _ in range(min(k, len(conns))):
                    conns.append(conns.pop(0))      # round robin: the one just pinged goes last
                    batch.append((name, conns[-1]))
            results = await asyncio.gather(*(self._held_echo(n, ws) for n, ws in batch))
            for (name, ws), ok in zip(batch, results):
                if not ok and ws in self.held[name]:
                    self.held[name].remove(ws)
            try:
                await asyncio.wait_for(stop.wait(), step)
            except TimeoutError:
                pass

    async def close_held(self, concurrency=64):
        """A last echo on every held connection, then its close handshake."""
        sem = asyncio.Semaphore(concurrency)

        async def one(name, ws):
            async with sem:
                if not await self._held_echo(name, ws):
                    return
                s = self.stats[name]
                try:
                    async with asyncio.timeout(self.timeout):
                        await ws.close()
                    s.held_close_ok += 1
                except (Exception, TimeoutError) as e:
                    s.held_close_fail += 1
                    s.record("held-close", e)
                finally:
                    s.held_open -= 1

        conns = [(name, ws) for name, lst in self.held.items() for ws in lst]
        for lst in self.held.values():
            lst.clear()
        await asyncio.gather(*(one(name, ws) for name, ws in conns))
