"""Plots output tokens/s against concurrency, one line per model, from a
tinylm-bench JSON report, as an SVG written with the standard library only
(so it runs wherever the benchmark does).

  python3 tools/bench/plot_matrix.py bench.json throughput.svg \\
      [--baselines baselines.jsonl]

--baselines adds the decode_baselines.py measurements (tokens/s against
batch size, one dashed line per implementation) for comparison.
"""
import argparse
import json
import math
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 460
LEFT, RIGHT, TOP, BOTTOM = 80, 200, 40, 60
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
           "#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"]


def series_from_report(report):
    series = {}
    for r in report.get("results", []):
        if r.get("output_tokens_per_s") is None:
            continue
        series.setdefault(r["model"], []).append(
            (r["concurrency"], r["output_tokens_per_s"]))
    return {name: sorted(points) for name, points in series.items()}


def series_from_baselines(path):
    series = {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if record.get("kind") != "measurement":
                continue
            name = f"{record['impl']} ({record['model']})"
            series.setdefault(name, []).append(
                (record["batch"], record["tokens_per_s"]))
    return {name: sorted(points) for name, points in series.items()}


def nice_ceiling(value):
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def render(solid, dashed, title):
    xs = [x for s in (solid, dashed) for pts in s.values() for x, _ in pts]
    ys = [y for s in (solid, dashed) for pts in s.values() for _, y in pts]
    x_lo, x_hi = math.log2(max(min(xs), 1)), math.log2(max(xs))
    if x_hi == x_lo:
        x_hi = x_lo + 1
    y_hi = nice_ceiling(max(ys))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x):
        return LEFT + (math.log2(max(x, 1)) - x_lo) / (x_hi - x_lo) * plot_w

    def py(y):
        return TOP + plot_h - y / y_hi * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
           f'height="{HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT}" y="22" font-size="14">{escape(title)}</text>']
    for i in range(6):  # horizontal grid and y labels
        y = y_hi * i / 5
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(y):.1f}" '
                   f'y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(y) + 4:.1f}" '
                   f'text-anchor="end">{y:g}</text>')
    for x in sorted(set(xs)):  # x ticks at the measured levels
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{TOP}" '
                   f'y2="{TOP + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{TOP + plot_h + 18}" '
                   f'text-anchor="middle">{x}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 15}" '
               'text-anchor="middle">concurrent streams (batch size), '
               'log scale</text>')
    out.append(f'<text transform="translate(18 {TOP + plot_h / 2}) '
               'rotate(-90)" text-anchor="middle">output tokens/s</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" '
               f'height="{plot_h}" fill="none" stroke="#333"/>')
    legend_y = TOP + 10
    entries = [(n, p, "") for n, p in solid.items()] + \
              [(n, p, ' stroke-dasharray="6 4"') for n, p in dashed.items()]
    for i, (name, points, dash) in enumerate(entries):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" '
                   f'stroke="{colour}" stroke-width="2"{dash}/>')
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" '
                       f'fill="{colour}"/>')
        ly = legend_y + 18 * i
        lx = LEFT + plot_w + 12
        out.append(f'<line x1="{lx}" x2="{lx + 24}" y1="{ly}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 30}" y="{ly + 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report")
    ap.add_argument("svg")
    ap.add_argument("--baselines", default="")
    args = ap.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    solid = series_from_report(report)
    dashed = series_from_baselines(args.baselines) if args.baselines else {}
    if not solid and not dashed:
        raise SystemExit(f"{args.report}: no results to plot")
    meta = report.get("meta", {})
    title = "tinylm-server, greedy, %s prompt + %s new tokens (%s)" % (
        meta.get("settings", {}).get("prompt_tokens", "?"),
        meta.get("settings", {}).get("max_new_tokens", "?"),
        meta.get("label", "") or "unlabelled")
    with open(args.svg, "w") as f:
        f.write(render(solid, dashed, title[:110]))


if __name__ == "__main__":
    main()
