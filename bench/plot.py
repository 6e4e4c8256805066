"""Result JSON → PNG plots in bench/results/ (linked from RESULTS.md).

    .venv/bin/python bench/plot.py bench/results/<date>.json

throughput.png: requests/s against connections, one panel per flow, ceilings as dashed lines.
latency.png: latency percentiles (p50 … p99.9) at one connection count, one panel per flow.
p99.png: p99 against connections, one panel per flow.
cpu_per_request.png: server CPU µs per request against connections, one panel per flow.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import layout  # noqa: E402
import peers  # noqa: E402

COLORS = {peers.JQGATE: "#d62728", peers.NJS: "#1f77b4", peers.LUA: "#17becf",
          peers.AIOHTTP: "#2ca02c", peers.DIRECT: "#7f7f7f", peers.UVLOOP: "#9467bd"}
PLOTTED = (peers.JQGATE, peers.NJS, peers.LUA, peers.AIOHTTP)    # access logs off
PERCENTILES = ["p50", "p75", "p90", "p99", "p99.9"]


def series(doc, impl, flow, value):
    entry = doc["targets"].get(f"{impl} / {flow}")
    if not entry or entry["status"] != "ok":
        return [], []
    xs = sorted(int(c) for c in entry.get("median", {}))
    return xs, [value(entry["median"][str(c)]) for c in xs]


def flows_in(doc):
    return [f for f in layout.FLOW_PATHS if any(v["flow"] == f for v in doc["targets"].values())]


def label(impl, flow):
    return "nginx plain proxy" if impl == peers.NJS and flow == "F2" else impl


def panels(n):
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.4 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def headroom(ax, share=0.35):
    """Raise the top of a log y axis so the legend (upper left) sits above the data, not on it."""
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * (high / low) ** (share / (1 - share)))


def legend(ax, doc, flow):
    """The legend, with implementations that were not measured listed in red (never drawn as data)."""
    gone = [(impl, doc["targets"][f"{impl} / {flow}"]["status"].replace("_", " "))
            for impl in PLOTTED
            if f"{impl} / {flow}" in doc["targets"] and doc["targets"][f"{impl} / {flow}"]["status"] != "ok"]
    for impl, status in gone:
        ax.plot([], [], " ", label=f"{impl}: {status}")
    box = ax.legend(fontsize=7, loc="upper left")
    for text in box.get_texts()[len(box.get_texts()) - len(gone):]:
        text.set_color("#b00000")


def subtitle(doc):
    m = doc["meta"]
    return (f"{m['mode']} run {m['date'][:16]} · 1 server core · median of {m['repetitions']} × "
            f"{m['duration_s']:g} s wrk runs")


def throughput(doc, out: Path) -> Path:
    flows = flows_in(doc)
    fig, axes = panels(len(flows))
    for ax, flow in zip(axes, flows):
        for impl in PLOTTED:
            xs, ys = series(doc, impl, flow, lambda m: m["rps"])
            if xs:
                ax.plot(xs, ys, marker="o", color=COLORS[impl], label=label(impl, flow))
        for impl in peers.CEILINGS:
            xs, ys = series(doc, impl, "fixed", lambda m: m["rps"])
            if xs:
                ax.plot(xs, ys, linestyle="--", color=COLORS[impl], alpha=0.7, label=impl)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(doc["meta"]["connections"], [str(c) for c in doc["meta"]["connections"]])
        ax.set_title(layout.FLOW_TITLES[flow], fontsize=10)
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel("requests/s (log)")
        headroom(ax)
        ax.grid(True, which="both", alpha=0.3)
        legend(ax, doc, flow)
    fig.suptitle("Throughput vs connections\n" + subtitle(doc), fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def latency(doc, out: Path, conns: int) -> Path:
    flows = flows_in(doc)
    fig, axes = panels(len(flows))
    for ax, flow in zip(axes, flows):
        for impl in PLOTTED:
            entry = doc["targets"].get(f"{impl} / {flow}")
            m = entry and entry["status"] == "ok" and entry.get("median", {}).get(str(conns))
            if m:
                ax.plot(PERCENTILES, [m["latency_ms"][p] for p in PERCENTILES], marker="o",
                        color=COLORS[impl], label=label(impl, flow))
        ax.set_yscale("log")
        ax.set_title(f"{layout.FLOW_TITLES[flow]} — {conns} connections", fontsize=10)
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency ms (log)")
        ax.grid(True, which="both", alpha=0.3)
        legend(ax, doc, flow)
    fig.suptitle("Latency percentiles\n" + subtitle(doc), fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def p99(doc, out: Path) -> Path:
    flows = flows_in(doc)
    fig, axes = panels(len(flows))
    for ax, flow in zip(axes, flows):
        for impl in PLOTTED:
            xs, ys = series(doc, impl, flow, lambda m: m["latency_ms"]["p99"])
            if xs:
                ax.plot(xs, ys, marker="o", color=COLORS[impl], label=label(impl, flow))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(doc["meta"]["connections"], [str(c) for c in doc["meta"]["connections"]])
        ax.set_title(layout.FLOW_TITLES[flow], fontsize=10)
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel("p99 latency ms (log)")
        ax.grid(True, which="both", alpha=0.3)
        legend(ax, doc, flow)
    fig.suptitle("p99 latency vs connections\n" + subtitle(doc), fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def cpu_cost(doc, out: Path) -> Path:
    """Server CPU µs per request against connections: the per-core cost, which holds even when the
    server did not get its whole core on a crowded machine."""
    flows = flows_in(doc)
    fig, axes = panels(len(flows))
    for ax, flow in zip(axes, flows):
        for impl in PLOTTED:
            xs, ys = series(doc, impl, flow, lambda m: m["cpu_us_per_request"])
            if xs:
                ax.plot(xs, ys, marker="o", color=COLORS[impl], label=label(impl, flow))
        for impl in peers.CEILINGS:
            xs, ys = series(doc, impl, "fixed", lambda m: m["cpu_us_per_request"])
            if xs:
                ax.plot(xs, ys, linestyle="--", color=COLORS[impl], alpha=0.7, label=impl)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(doc["meta"]["connections"], [str(c) for c in doc["meta"]["connections"]])
        ax.set_title(layout.FLOW_TITLES[flow], fontsize=10)
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel("server CPU µs per request (log; lower is better)")
        headroom(ax)
        legend(ax, doc, flow)
    fig.suptitle("Server CPU cost per request\n" + subtitle(doc), fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_plots(doc: dict, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    conns = doc["meta"]["connections"]
    at = 200 if 200 in conns else conns[-1]
    return [throughput(doc, directory / "throughput.png"),
            latency(doc, directory / "latency.png", at),
            p99(doc, directory / "p99.png"),
            cpu_cost(doc, directory / "cpu_per_request.png")]


if __name__ == "__main__":
    for path in write_plots(json.loads(Path(sys.argv[1]).read_text()), layout.RESULTS):
        print(path)
