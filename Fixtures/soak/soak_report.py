"""Samples to verdicts. "Flat" is decided on the churn phase only:
  * memory (RSS): the typical growth rate over the second half of the churn (the first half may
    still warm caches and allocator arenas): the median of the rates between consecutive samples,
    extrapolated over the whole churn and divided by the churn cycles. A leak grows RSS in every
    interval; a burst of load (cycles piling up on a saturated machine) raises the allocator's
    high-water mark once, in one or two intervals, which the median ignores. A loose bound on the
    total rise over the second half still catches leaks that only come in steps;
  * counts (descriptors, threads, processes): the floor, i.e. the minimum over the last third of
    the churn minus the minimum over the first third. Counts move with the churn cycles in flight
    (a saturated machine piles them up for a while); a leak raises the floor, load does not.
Each growth is compared with an allowance, and descriptors and processes must come back to the
baseline once the held connections are closed. The thresholds live in `LIMITS` and are documented
in the README (Benchmarks, churn soak).
"""
import csv
from pathlib import Path

# Allowed growth over the churn duration and at the end.
LIMITS = {
    "rss_growth_kib": 8192, "rss_growth_share": 0.05,        # max(8 MiB, 5 % of the median RSS)
    "rss_bytes_per_cycle": 512,                              # typical rate / churn cycles per second
    "rss_rise_kib": 16384, "rss_rise_share": 0.10,           # last - first of the second half
    "fds_growth": 32, "fds_growth_share": 0.02,              # max(32, 2 % of the median count)
    "threads_growth": 4,
    "procs_growth": 16, "procs_growth_share": 0.02,
    "fds_end_slack": 8, "threads_end_slack": 4, "procs_end_slack": 0,
    "rate_share": 0.9,                                       # achieved churn rate below this: WARN
}


def median_rate_per_min(points):
    """Median of the rates between consecutive [(t seconds, value)] points, per minute; 0 with
    fewer than 3 points (two rates)."""
    pts = [(t, v) for t, v in points if v is not None]
    rates = [(v1 - v0) / (t1 - t0) * 60 for (t0, v0), (t1, v1) in zip(pts, pts[1:]) if t1 - t0 >= 1]
    if len(rates) < 2:
        return 0.0
    rates.sort()
    n = len(rates)
    return rates[n // 2] if n % 2 else (rates[n // 2 - 1] + rates[n // 2]) / 2


def median(values):
    vs = sorted(v for v in values if v is not None)
    return vs[len(vs) // 2] if vs else 0


class Analysis:
    """The samples split into phases, with the helpers every verdict line uses."""

    def __init__(self, samples, churn_seconds):
        self.samples = samples
        self.churn = [s for s in samples if s["phase"] == "churn"]
        self.minutes = churn_seconds / 60
        if self.churn:
            t0, t1 = self.churn[0]["t"], self.churn[-1]["t"]
            self.second_half = [s for s in self.churn if s["t"] >= (t0 + t1) / 2]
        else:
            self.second_half = []
        self.baseline = next((s for s in reversed(samples) if s["phase"] == "baseline"), samples[0])
        self.final = samples[-1]

    def growth(self, key, absolute, share=0.0, floor=False):
        """(growth over the churn, allowance, median) of one column."""
        if floor:
            values = [s.get(key) for s in self.churn]
            third = len(values) // 3
            first = [v for v in values[:third] if v is not None]
            last = [v for v in values[-third:] if v is not None] if third else []
            g = min(last) - min(first) if first and last else 0
        else:
            g = median_rate_per_min([(s["t"], s.get(key)) for s in self.second_half]) * self.minutes
        med = median(s.get(key) for s in self.churn)
        return g, max(absolute, share * med), med

    def check_rss(self, key, label, cycles_per_second):
        """Memory: the typical rate of the second half, extrapolated over the churn and per churn
        cycle (the second catches a steady per-request leak in runs too short for the first), and
        the total rise over the second half."""
        g, allow, med = self.growth(key, LIMITS["rss_growth_kib"], LIMITS["rss_growth_share"])
        per_cycle = g * 1024 / (self.minutes * 60 * cycles_per_second) if self.minutes and cycles_per_second else 0
        values = [s.get(key) for s in self.second_half if s.get(key) is not None]
        rise = values[-1] - values[0] if values else 0
        rise_allow = max(LIMITS["rss_rise_kib"], LIMITS["rss_rise_share"] * med)
        ok = g <= allow and per_cycle <= LIMITS["rss_bytes_per_cycle"] and rise <= rise_allow
        return ok, (f"{label} {med / 1024:.1f} MiB median, {g / 1024:+.1f} MiB/churn (≤{allow / 1024:.1f}), "
                    f"{per_cycle:+.0f} B/cycle (≤{LIMITS['rss_bytes_per_cycle']}), "
                    f"second half {rise / 1024:+.1f} MiB (≤{rise_allow / 1024:.0f})")

    def check_floor(self, key, label, absolute, share=0.0):
        """Counts: growth of the floor from the first to the last third of the churn."""
        g, allow, med = self.growth(key, absolute, share, floor=True)
        return g <= allow, f"{label} {med:.0f} median, floor {g:+.0f} (≤{allow:.0f})"

    def check_end(self, key, label, slack):
        b, e = self.baseline.get(key), self.final.get(key)
        ok = b is not None and e is not None and e <= b + slack
        return ok, f"{label} end {e} (baseline {b})"


def gateway_verdict(a: Analysis, exit_code, leftovers, cycles_per_second):
    """`cycles_per_second`: churn cycles (a WebSocket cycle and a GET) per second over all paths."""
    checks = [
        a.check_rss("gw_rss_kib", "RSS", cycles_per_second),
        a.check_floor("gw_fds", "fds", LIMITS["fds_growth"], LIMITS["fds_growth_share"]),
        a.check_end("gw_fds", "fds", LIMITS["fds_end_slack"]),
        a.check_floor("gw_threads", "threads", LIMITS["threads_growth"]),
        a.check_end("gw_threads", "threads", LIMITS["threads_end_slack"]),
        a.check_floor("descendants", "processes", LIMITS["procs_growth"], LIMITS["procs_growth_share"]),
        a.check_end("descendants", "processes", LIMITS["procs_end_slack"]),
        a.check_end("zombies", "zombies", 0),
        (exit_code == 0, f"exit {exit_code}"),
        (not leftovers, f"{len(leftovers)} processes outlived it"),
    ]
    return line("gateway", checks)


def path_verdict(a: Analysis, p, stats, rate, churn_cycles):
    """`churn_cycles`: WebSocket cycles started during the churn phase (for the achieved rate)."""
    n = p.name
    achieved = churn_cycles / (a.minutes * 60) if a.minutes else 0
    checks = [
        (stats.failures() == 0, f"{stats.ws_ok} WS cycles + {stats.get_ok} GETs ok, {stats.failures()} failed"),
        (True, f"held {stats.held_close_ok}/{stats.held_target} to the end"),
        a.check_floor(f"{n}_children", "children", LIMITS["procs_growth"], LIMITS["procs_growth_share"]),
        a.check_end(f"{n}_children", "children", LIMITS["procs_end_slack"]),
        a.check_end(f"{n}_zombies", "zombies", 0),
    ]
    if p.backend_marker:
        pids = {s.get(f"{n}_backend_pid") for s in a.samples if s.get(f"{n}_backend_pid")}
        checks += [
            a.check_rss(f"{n}_backend_rss_kib", "backend RSS", achieved),
            a.check_floor(f"{n}_backend_fds", "backend fds", LIMITS["fds_growth"], LIMITS["fds_growth_share"]),
            a.check_end(f"{n}_backend_fds", "backend fds", LIMITS["fds_end_slack"]),
            (len(pids) == 1, f"backend pid{'s' if len(pids) != 1 else ''} {','.join(map(str, sorted(pids)))}"),
        ]
    warn = achieved < LIMITS["rate_share"] * rate
    cpu = median(s.get("driver_cpu_pct") for s in a.churn)
    rate_text = f"rate {achieved:.1f}/s of {rate:g}" + (f" (below target: client or machine saturated; "
                                                        f"driver CPU {cpu} % of a core)" if warn else "")
    return line(n, checks, rate_text, warn)


def line(name, checks, extra="", warn=False):
    ok = all(c for c, _ in checks)
    bad = [t for c, t in checks if not c]
    verdict = "FLAT" if ok else "GROWING/FAILED"
    head = f"{'PASS' if ok and not warn else 'WARN' if ok else 'FAIL'} {name}: {verdict}"
    body = "; ".join(t for _, t in checks)
    if bad:
        body = "FAILED: " + " | ".join(bad) + " -- " + body
    return ok, f"{head} -- {body}" + (f"; {extra}" if extra else "")


def write_csv(path: Path, samples):
    keys = []
    for s in samples:
        for k in s:
            if k not in keys:
                keys.append(k)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for s in samples:
            w.writerow(s)
