"""A hand-written SVG of the soak samples (no plotting dependency): stacked panels sharing the time
axis, the phases shaded behind them, one coloured line per series and a legend per panel.
"""
import math
from html import escape

WIDTH, LEFT, RIGHT, PANEL_H, GAP, TOP = 1000, 70, 190, 150, 46, 56
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
PHASE_FILL = {"hold": "#fff4d6", "churn": "#e8f4e8", "drain": "#fde8e8", "settle": "#eeeeee"}


def nice_step(span, ticks=4):
    raw = span / max(ticks, 1)
    if raw <= 0:
        return 1
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def fmt(v):
    if abs(v) >= 10000:
        return f"{v / 1000:.0f}k"
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.1f}"


class Chart:
    def __init__(self, title, subtitle, t_max):
        self.parts, self.y = [], TOP
        self.t_max = max(t_max, 1)
        self.title, self.subtitle = title, subtitle
        self.plot_w = WIDTH - LEFT - RIGHT

    def x(self, t):
        return LEFT + self.plot_w * t / self.t_max

    def phases(self, spans, height):
        for name, t0, t1 in spans:
            fill = PHASE_FILL.get(name)
            if fill:
                wide = self.x(t1) - self.x(t0) > 8 * len(name)
                self.parts.append(f'<rect x="{self.x(t0):.1f}" y="{TOP - 14}" width="{max(self.x(t1) - self.x(t0), 0.5):.1f}" '
                                  f'height="{height}" fill="{fill}"/>')
                if wide:   # a label wider than its band would overwrite the next one
                    self.parts.append(f'<text x="{self.x(t0) + 3:.1f}" y="{TOP - 3}" class="ph">{name}</text>')

    def panel(self, title, series, unit=""):
        """series: [(label, colour, [(t, v)])]; values None are skipped (gaps)."""
        values = [v for _, _, pts in series for _, v in pts if v is not None]
        lo, hi = (min(0, min(values)), max(values)) if values else (0, 1)
        hi = hi if hi > lo else lo + 1
        step = nice_step(hi - lo)
        hi = math.ceil(hi * 1.05 / step) * step
        y0, p = self.y + 18, self.parts

        def y(v):
            return y0 + PANEL_H - PANEL_H * (v - lo) / (hi - lo)

        p.append(f'<text x="{LEFT}" y="{self.y + 12}" class="pt">{escape(title)}{" (" + unit + ")" if unit else ""}</text>')
        p.append(f'<rect x="{LEFT}" y="{y0}" width="{self.plot_w}" height="{PANEL_H}" class="frame"/>')
        v = lo
        while v <= hi + step / 2:
            p.append(f'<line x1="{LEFT}" x2="{LEFT + self.plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>')
            p.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" class="yt">{fmt(v)}</text>')
            v += step
        for i, (label, color, pts) in enumerate(series):
            path, pen = [], "M"
            for t, v in pts:
                if v is None:
                    pen = "M"
                    continue
                path.append(f"{pen}{self.x(t):.1f},{y(v):.1f}")
                pen = "L"
            if path:
                p.append(f'<path d="{" ".join(path)}" stroke="{color}" fill="none" stroke-width="1.6"/>')
            ly = y0 + 10 + 15 * i
            p.append(f'<line x1="{LEFT + self.plot_w + 12}" x2="{LEFT + self.plot_w + 30}" y1="{ly - 4}" y2="{ly - 4}" '
                     f'stroke="{color}" stroke-width="3"/>')
            p.append(f'<text x="{LEFT + self.plot_w + 35}" y="{ly}" class="lg">{escape(label)}</text>')
        self.y = y0 + PANEL_H + GAP - 18

    def render(self, spans):
        height = self.y + 30
        step = nice_step(self.t_max, 8)
        as_min = self.t_max >= 600
        ticks, t = [], 0.0
        while t <= self.t_max + 1e-9:
            label = f"{t / 60:g} min" if as_min else f"{t:g} s"
            ticks.append(f'<text x="{self.x(t):.1f}" y="{self.y + 4}" class="xt">{label}</text>')
            t += step if not as_min else max(60, nice_step(self.t_max / 60, 8) * 60)
        shading = Chart(self.title, self.subtitle, self.t_max)
        shading.phases(spans, self.y - TOP + 4)
        style = ("<style>text{font-family:sans-serif;font-size:11px;fill:#222}.pt{font-size:13px;font-weight:bold}"
                 ".yt{text-anchor:end}.xt{text-anchor:middle}.ph{font-size:10px;fill:#666}"
                 ".frame{fill:none;stroke:#999}.grid{stroke:#ddd}.lg{font-size:11px}"
                 ".title{font-size:16px;font-weight:bold}</style>")
        return "\n".join([
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">',
            style, f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
            f'<text x="{LEFT}" y="20" class="title">{escape(self.title)}</text>',
            f'<text x="{LEFT}" y="36">{escape(self.subtitle)}</text>',
            *shading.parts, *self.parts, *ticks, "</svg>"])


def phase_spans(samples):
    spans = []
    for s in samples:
        if spans and spans[-1][0] == s["phase"]:
            spans[-1][2] = s["t"]
        else:
            if spans:
                spans[-1][2] = s["t"]
            spans.append([s["phase"], s["t"], s["t"]])
    return [tuple(x) for x in spans]


def rates(samples, key):
    """Per-second rate of a cumulative counter between consecutive samples."""
    out = [(samples[0]["t"], None)]
    for a, b in zip(samples, samples[1:]):
        dt = b["t"] - a["t"]
        out.append((b["t"], (b.get(key, 0) - a.get(key, 0)) / dt if dt > 0 else None))
    return out


def soak_svg(samples, paths, title, subtitle):
    def col(key, scale=1.0):
        return [(s["t"], None if s.get(key) in (None, "") else s[key] / scale) for s in samples]

    chart = Chart(title, subtitle, samples[-1]["t"] if samples else 1)
    # one colour per path in every panel; the gateway's own series are black
    colours = {p.name: PALETTE[i % len(PALETTE)] for i, p in enumerate(paths)}
    names = [p.name for p in paths]

    def per_path(key, scale=1.0, only=None):
        return [(n, colours[n], col(key.format(n), scale)) for n in (only or names)]

    chart.panel("gateway RSS", [("VmRSS", "#000", col("gw_rss_kib", 1024))], "MiB")
    chart.panel("gateway open descriptors", [("fds", "#000", col("gw_fds"))])
    chart.panel("gateway threads, zombie children, driver CPU (% of a core)",
                [("threads", "#000", col("gw_threads")), ("zombies", "#d62728", col("zombies")),
                 ("driver CPU %", "#999", col("driver_cpu_pct"))])
    chart.panel("processes under the gateway", [("all", "#000", col("descendants"))] + per_path("{}_children"))
    chart.panel("long-lived backend RSS", per_path("{}_backend_rss_kib", 1024,
                                                   [p.name for p in paths if p.backend_marker]), "MiB")
    chart.panel("held WebSockets open", per_path("{}_held_open"))
    chart.panel("churn cycles in flight", per_path("{}_in_flight"))
    chart.panel("churn: WebSocket cycles per second", [(n, colours[n], rates(samples, f"{n}_ws_ok")) for n in names])
    chart.panel("failures (cumulative: WS, GET, held)", per_path("{}_failures"))
    return chart.render(phase_spans(samples))
