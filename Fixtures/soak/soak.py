#!/usr/bin/env python3
"""Churn soak (`make soak`): a release gateway with every backend path, thousands of held
WebSockets, and a fixed-rate connect/echo/close + GET churn on every path for a long time, while
the gateway's descriptors, RSS, threads and descendant processes are sampled. Writes samples (CSV),
an SVG plot and one verdict line per path; exits 1 when any path fails or grows.

Phases: start (backends spawned) -> warmup (a few cycles per path) -> baseline -> hold (open the
held WebSockets, each verified with an echo) -> churn (SOAK_SECONDS; held connections echo once
per SOAK_HOLD_PING s) -> drain (a last echo and the close handshake on every held connection) ->
settle (wait for descriptors/processes to come back) -> stop (SIGTERM, exit code, leftovers).

Settings (environment, or the options of the same name in lower case: --soak-seconds 120 ...):
  SOAK_SECONDS 1800, SOAK_INTERVAL 10, SOAK_HELD 5000, SOAK_RATE 20 (cycles/s per path; the
  Python CGI path runs at a quarter of it), SOAK_HOLD_PING 60, SOAK_OPEN_RATE 250 (held opens/s),
  SOAK_PATHS (comma list, default all), SOAK_MIX (both, ws or get: what one churn cycle does), SOAK_OUT (default Fixtures/bench-results/soak-<UTC date-time>),
  SOAK_BUILD_DIR (default .build/release).
Loopback only; every process started here is stopped at the end, also on Ctrl-C or failure.
"""
import argparse
import asyncio
import datetime
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak_gateway import REPO, Gateway, binaries, fd_targets, leftover_fds, prepare, snapshot, soak_paths  # noqa: E402
from soak_load import Load, PathStats  # noqa: E402
from soak_report import Analysis, gateway_verdict, path_verdict, write_csv  # noqa: E402
from soak_svg import soak_svg  # noqa: E402

SETTINGS = [("SOAK_SECONDS", float, 1800), ("SOAK_INTERVAL", float, 10), ("SOAK_HELD", int, 5000),
            ("SOAK_RATE", float, 20), ("SOAK_HOLD_PING", float, 60), ("SOAK_OPEN_RATE", float, 250),
            ("SOAK_PATHS", str, ""), ("SOAK_MIX", str, "both"), ("SOAK_OUT", str, ""), ("SOAK_BUILD_DIR", str, "")]


def settings(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    for name, kind, default in SETTINGS:
        ap.add_argument("--" + name.lower().replace("_", "-"), type=kind, default=kind(os.environ.get(name, default)))
    return ap.parse_args(argv)


def held_counts(paths, total):
    """`total` spread over the paths by weight (largest remainders get the leftovers)."""
    weights = sum(p.weight for p in paths)
    exact = {p.name: total * p.weight / weights for p in paths}
    counts = {n: int(v) for n, v in exact.items()}
    for n in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[:total - sum(counts.values())]:
        counts[n] += 1
    return counts


class Sampler:
    """Takes a sample every `interval` seconds (and at every phase change) into `samples`."""

    def __init__(self, gw_pid, paths, stats, interval, in_flight):
        self.gw_pid, self.paths, self.stats, self.interval = gw_pid, paths, stats, interval
        self.in_flight = in_flight
        self.samples, self.phase, self.t0 = [], "start", time.monotonic()
        self.cpu_mark = (time.monotonic(), time.process_time())

    async def take(self):
        snap = await asyncio.to_thread(snapshot, self.gw_pid)
        s = {"t": round(time.monotonic() - self.t0, 1), "phase": self.phase,
             "gw_rss_kib": snap.gateway.get("rss_kib"), "gw_fds": snap.gateway.get("fds"),
             "gw_threads": snap.gateway.get("threads"), "descendants": snap.descendants, "zombies": snap.zombies}
        # the driver's own share of one core since the last sample: near 100 % = the client is the limit
        now, cpu = time.monotonic(), time.process_time()
        s["driver_cpu_pct"] = round(100 * (cpu - self.cpu_mark[1]) / max(now - self.cpu_mark[0], 1e-3))
        self.cpu_mark = (now, cpu)
        for p in self.paths:
            st, b = self.stats[p.name], snap.backends.get(p.name, {})
            s[f"{p.name}_children"] = snap.per_path_children.get(p.name)
            s[f"{p.name}_zombies"] = snap.per_path_zombies.get(p.name)
            if p.backend_marker:
                for k in ("pid", "rss_kib", "fds", "threads"):
                    s[f"{p.name}_backend_{k}"] = b.get(k)
            s.update({f"{p.name}_ws_ok": st.ws_ok, f"{p.name}_ws_fail": st.ws_fail, f"{p.name}_get_ok": st.get_ok,
                      f"{p.name}_get_fail": st.get_fail, f"{p.name}_held_open": st.held_open,
                      f"{p.name}_skipped": st.skipped, f"{p.name}_failures": st.failures(),
                      f"{p.name}_in_flight": len(self.in_flight[p.name])})
        self.samples.append(s)
        return s

    async def set_phase(self, phase):
        self.phase = phase
        return await self.take()

    async def run(self):
        while True:
            await asyncio.sleep(self.interval)
            s = await self.take()
            ok = sum(s[f"{p.name}_ws_ok"] for p in self.paths)
            bad = sum(s[f"{p.name}_failures"] for p in self.paths)
            held = sum(s[f"{p.name}_held_open"] for p in self.paths)
            print(f"[{s['t']:7.0f} s {s['phase']:>8}] gateway RSS {(s['gw_rss_kib'] or 0) / 1024:.1f} MiB, "
                  f"fds {s['gw_fds']}, threads {s['gw_threads']}, processes {s['descendants']} "
                  f"(zombies {s['zombies']}) | held {held}, WS cycles {ok}, failures {bad}, "
                  f"driver CPU {s['driver_cpu_pct']} %", flush=True)


async def wait_for_backends(sampler, paths, timeout=30):
    want = {p.name for p in paths if p.backend_marker}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = await asyncio.to_thread(snapshot, sampler.gw_pid)
        if want <= set(snap.backends):
            return
        await asyncio.sleep(0.5)
    raise SystemExit(f"soak: backends not running after {timeout} s: {sorted(want - set(snap.backends))}")


async def settle(sampler, baseline, timeout=60):
    """Waits until descriptors and processes are exactly back at the baseline, or the timeout: the
    verdict allows some slack, the numbers it prints should not be caught mid-close."""
    deadline = time.monotonic() + timeout
    while True:
        s = await sampler.take()
        back = (s["gw_fds"] is not None and s["gw_fds"] <= baseline["gw_fds"]
                and s["descendants"] <= baseline["descendants"] and s["zombies"] == 0)
        if back or time.monotonic() > deadline:
            return
        await asyncio.sleep(1)


async def soak(cfg, paths, gw, stats):
    load = Load(gw.host, gw.port, paths, stats, mix=cfg.soak_mix)
    sampler = Sampler(gw.pid, paths, stats, cfg.soak_interval, load.in_flight)
    await wait_for_backends(sampler, paths)
    ticker = asyncio.create_task(sampler.run())
    try:
        await sampler.set_phase("warmup")
        for p in paths:
            for _ in range(3):
                await load.cycle(p.name)
        await asyncio.sleep(2)
        await sampler.set_phase("baseline")
        await asyncio.sleep(1)
        baseline = await sampler.take()
        baseline_fds = fd_targets(gw.pid)
        await sampler.set_phase("hold")
        await load.open_held(held_counts(paths, cfg.soak_held), cfg.soak_open_rate)
        await sampler.set_phase("churn")
        before = {p.name: stats[p.name].cycles() for p in paths}
        stop = asyncio.Event()
        tasks = [asyncio.create_task(load.churn(p.name, cfg.soak_rate * p.rate_factor, stop)) for p in paths]
        tasks.append(asyncio.create_task(load.ping_held(cfg.soak_hold_ping, stop)))
        started = time.monotonic()
        try:
            await asyncio.sleep(cfg.soak_seconds)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        churn_seconds = time.monotonic() - started
        await sampler.take()
        done = {p.name: stats[p.name].cycles() - before[p.name] for p in paths}
        await sampler.set_phase("drain")
        await load.close_held()
        await sampler.set_phase("settle")
        await settle(sampler, baseline)
        return sampler.samples, churn_seconds, done, leftover_fds(baseline_fds, fd_targets(gw.pid))
    finally:
        ticker.cancel()


def write_outputs(cfg, out, paths, stats, samples, churn_seconds, done, extra_fds, exit_code, leftovers, gw):
    (out / "raw").mkdir(parents=True, exist_ok=True)
    write_csv(out / "raw" / "samples.csv", samples)
    for name in ("error.log", "switchyard.stderr", "switchyard.conf"):
        src = gw.tmp / name
        if src.exists():
            with open(src, "rb") as f:
                f.seek(max(0, src.stat().st_size - (1 << 20)))
                (out / "raw" / name).write_bytes(f.read())
    a = Analysis(samples, churn_seconds)
    results = [gateway_verdict(a, exit_code, leftovers, sum(done.values()) / max(churn_seconds, 1))]
    for p in paths:
        rate = cfg.soak_rate * p.rate_factor
        results.append(path_verdict(a, p, stats[p.name], rate, done[p.name]))
    params = (f"{churn_seconds:.0f} s churn at {cfg.soak_rate:g} cycles/s per path, {cfg.soak_held} held WebSockets, "
              f"samples every {cfg.soak_interval:g} s")
    lines = [f"switchyard churn soak {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: {params}"]
    lines += [text for _, text in results]
    if extra_fds:   # what the gateway still had open after the settle that it did not have at the baseline
        lines.append(f"  gateway descriptors not back at the end: {', '.join(extra_fds[:20])}"
                     + (f" (+{len(extra_fds) - 20} more)" if len(extra_fds) > 20 else ""))
    for p in paths:
        for kind, n in stats[p.name].errors.most_common():
            lines.append(f"  {p.name} {kind} x{n}, e.g. {stats[p.name].examples.get(kind, '')}")
    overall = all(ok for ok, _ in results)
    lines.append(f"SOAK {'PASS' if overall else 'FAIL'}")
    (out / "verdict.txt").write_text("\n".join(lines) + "\n")
    svg = soak_svg(samples, paths, "Switchyard churn soak", params)
    (out / "soak.svg").write_text(svg)
    print("\n".join(lines))
    print(f"soak: results in {out}/ (soak.svg, verdict.txt, raw/samples.csv)")
    return overall


def raise_fd_limit(held, gateway_fds):
    """The gateway inherits our RLIMIT_NOFILE hard limit and raises its soft limit to it; it needs
    about `gateway_fds` (see soak_paths), so raise the hard limit where allowed (CAP_SYS_RESOURCE),
    else warn: the gateway would refuse connections (EMFILE) and the soak would fail."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(gateway_fds, held + 1024) + 2048
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            cap = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            cap = want
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, cap), min(want, cap)))
            return
        except (ValueError, OSError):
            print(f"soak: warning: the gateway may need {want} descriptors, RLIMIT_NOFILE hard limit is {hard} "
                  "and cannot be raised: expect refused connections (EMFILE); lower SOAK_HELD", file=sys.stderr)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if held + 512 > hard:
        raise SystemExit(f"soak: {held} held WebSockets need more descriptors than RLIMIT_NOFILE {hard}")


def main(argv):
    cfg = settings(argv)
    if cfg.soak_mix not in ("both", "ws", "get"):
        raise SystemExit(f"soak: SOAK_MIX must be both, ws or get, not {cfg.soak_mix!r}")
    paths = soak_paths()
    if cfg.soak_paths:
        wanted = cfg.soak_paths.split(",")
        paths = [p for p in paths if p.name in wanted]
        if len(paths) != len(wanted):
            raise SystemExit(f"soak: unknown path in {wanted}; known: {[p.name for p in soak_paths()]}")
    counts = held_counts(paths, cfg.soak_held)
    in_flight = len(paths) * Load.MAX_IN_FLIGHT * 6
    raise_fd_limit(cfg.soak_held, sum(counts[p.name] * p.fd_cost for p in paths) + in_flight + 256)
    build_dir = Path(cfg.soak_build_dir) if cfg.soak_build_dir else REPO / ".build" / "release"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M")
    out = Path(cfg.soak_out) if cfg.soak_out else REPO / "Fixtures" / "bench-results" / f"soak-{stamp}"
    bins = binaries(build_dir)
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-soak-"))
    stats = {p.name: PathStats() for p in paths}
    gw = Gateway(bins["switchyard"], prepare(tmp, bins), tmp)
    print(f"soak: gateway pid {gw.pid} on http://{gw.host}:{gw.port}/, paths {', '.join(p.name for p in paths)}", flush=True)
    result, exit_code, leftovers = None, None, []
    try:
        result = run_async(soak(cfg, paths, gw, stats))
    finally:
        if result is None:
            gw.kill_all()
        else:
            exit_code, leftovers = gw.stop()
    if result is None:
        print("soak: interrupted; gateway and its processes killed", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        return 130
    samples, churn_seconds, done, extra_fds = result
    overall = write_outputs(cfg, out, paths, stats, samples, churn_seconds, done, extra_fds, exit_code, leftovers, gw)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if overall else 1


def run_async(coro):
    """Runs the soak; SIGINT/SIGTERM cancel it (then the caller cleans up) and give None."""
    async def guarded():
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await coro
        except asyncio.CancelledError:
            return None
    return asyncio.run(guarded())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
