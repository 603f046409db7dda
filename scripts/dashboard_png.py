"""Draws the chart's Grafana dashboard from real data, without Grafana.

Input: the dashboard.json that e2e's TestDashboardUnderLoad writes (every panel of
helm/wallet/dashboards/wallet.json, each target carrying the matrix Prometheus answered
to its query over the run). Output: a PNG laid out on Grafana's 24-column grid, one
picture per panel: lines for time series (stacked where the panel stacks), the last
value for stats, up/down bands for the state timeline. Nothing is computed here: every
number is what Prometheus evaluated from the panel's own PromQL.

usage: python dashboard_png.py dashboard.json out.png
"""

import json
import math
import re
import sys
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

UNIT_H = 0.36  # inches per grid row
UNIT_W = 0.85  # inches per grid column
BG, PANEL, TEXT, GRID = "#111217", "#181b1f", "#d8d9da", "#2c3235"


def legend(fmt, metric):
    if not fmt:
        return ",".join(f"{k}={v}" for k, v in sorted(metric.items())) or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt).strip()


def fmt_value(v, unit):
    if v is None or math.isnan(v):
        return "n/a"
    if unit == "percentunit":
        return f"{v * 100:.2f}%"
    if unit == "s":
        return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
    if unit == "reqps":
        return f"{v:.1f} req/s"
    if unit == "ops":
        return f"{v:.2f} ops/s"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"


def series(target, start):
    out = []
    for s in target.get("data", {}).get("result", []):
        xs = [(float(t) - start) / 60 for t, _ in s["values"]]
        ys = [float(v) for _, v in s["values"]]
        out.append((legend(target.get("legendFormat", ""), s["metric"]), xs, ys))
    return out


def draw_timeseries(ax, panel, start, end):
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    stacked = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {}).get("stacking", {}).get("mode") == "normal"
    all_series = [s for t in panel.get("targets", []) for s in series(t, start)]
    # The busiest series first; a legend of at most eight.
    all_series.sort(key=lambda s: -max([y for y in s[2] if not math.isnan(y)] or [0]))
    if stacked and all_series:
        grid = sorted({x for _, xs, _ in all_series for x in xs})
        stacks = []
        for _, xs, ys in all_series:
            m = dict(zip(xs, ys))
            stacks.append([0 if math.isnan(m.get(x, 0.0)) else m.get(x, 0.0) for x in grid])
        ax.stackplot(grid, stacks, labels=[s[0] for s in all_series], alpha=0.75, linewidth=0.4)
    else:
        for label, xs, ys in all_series:
            ax.plot(xs, ys, label=label, linewidth=1.1)
    ax.set_xlim(0, (end - start) / 60)
    ax.tick_params(colors=TEXT, labelsize=6)
    ax.grid(color=GRID, linewidth=0.5)
    ax.set_xlabel("minutes", color=TEXT, fontsize=6, labelpad=1)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt_value(v, unit)))
    if all_series:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[:8], labels[:8], fontsize=5, loc="upper left", framealpha=0.4,
                  facecolor=PANEL, labelcolor=TEXT, ncol=2 if len(labels) > 4 else 1)
    else:
        ax.text(0.5, 0.5, "no data", color=TEXT, ha="center", va="center", transform=ax.transAxes)


def draw_stat(ax, panel, start, load_end):
    # Grafana shows the last value; the run ends with a quiet tail, so the picture
    # shows the last value under load instead, and says so.
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    value = float("nan")
    limit = (load_end - start) / 60
    for t in panel.get("targets", []):
        for _, xs, ys in series(t, start):
            vals = [y for x, y in zip(xs, ys) if not math.isnan(y) and x <= limit]
            if vals:
                value = vals[-1]
    ax.set_axis_off()
    ax.text(0.5, 0.5, fmt_value(value, unit), color="#73bf69", fontsize=20, ha="center", va="center",
            transform=ax.transAxes, fontweight="bold")
    ax.text(0.5, 0.05, "at the end of the load", color=TEXT, fontsize=6, ha="center", transform=ax.transAxes)


def draw_state(ax, panel, start, end):
    rows = [s for t in panel.get("targets", []) for s in series(t, start)]
    rows.sort(key=lambda s: s[0])
    for i, (label, xs, ys) in enumerate(rows):
        for x0, x1, y in zip(xs, xs[1:] + [xs[-1] + 5 / 60], ys):
            ax.barh(i, x1 - x0, left=x0, color="#73bf69" if y >= 1 else "#f2495c", height=0.7)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=6, color=TEXT)
    ax.set_xlim(0, (end - start) / 60)
    ax.tick_params(colors=TEXT, labelsize=6)
    ax.set_xlabel("minutes (green up, red down)", color=TEXT, fontsize=6, labelpad=1)


def main(src, dst):
    board = json.load(open(src))
    start, end = board["start"], board["end"]
    panels = board["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    fig = plt.figure(figsize=(24 * UNIT_W, (rows + 2) * UNIT_H), facecolor=BG)
    when = datetime.fromtimestamp(start, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = (board.get("load_end", end) - start) / 60
    fig.suptitle(f"{board['title']}: regions eu and us, {when}: {load:.1f} min of load, then quiet "
                 "(every panel's PromQL evaluated by Prometheus over real scrapes of the wallet)", color=TEXT, fontsize=11, y=0.995)
    total_h = rows + 2
    for p in panels:
        g = p["gridPos"]
        left, width = g["x"] / 24, g["w"] / 24
        bottom, height = 1 - (g["y"] + 1.6 + g["h"]) / total_h, g["h"] / total_h
        if p["type"] == "row":
            fig.text(left + 0.004, bottom + height * 0.2, p["title"], color=TEXT, fontsize=10, fontweight="bold")
            continue
        pad_w, pad_h = 0.004, 0.25 / total_h
        frame = fig.add_axes([left + pad_w, bottom + pad_h, width - 2 * pad_w, height - 2 * pad_h], facecolor=PANEL)
        frame.set_xticks([]), frame.set_yticks([])
        for sp in frame.spines.values():
            sp.set_color(GRID)
        frame.set_title(p["title"], color=TEXT, fontsize=8, loc="left", pad=3)
        inner = [left + pad_w + 0.035 * width + 0.012, bottom + pad_h + 1.0 / total_h,
                 width - 2 * pad_w - 0.035 * width - 0.02, height - 2 * pad_h - 1.7 / total_h]
        ax = fig.add_axes(inner, facecolor=PANEL)
        for sp in ax.spines.values():
            sp.set_color(GRID)
        if p["type"] == "stat":
            draw_stat(ax, p, start, board.get("load_end", end))
        elif p["type"] == "state-timeline":
            draw_state(ax, p, start, end)
        else:
            draw_timeseries(ax, p, start, end)
    fig.savefig(dst, dpi=90, facecolor=BG)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
