"""Result JSON → bench/RESULTS.md: tables, ratios and the issue's targets marked met or short.

    .venv/bin/python bench/report.py bench/results/<date>.json     # rewrite RESULTS.md (and plots)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import layout  # noqa: E402
import peers  # noqa: E402

IDLE_LIMIT_MIB = 150


def med(doc, impl, flow, conns):
    entry = doc["targets"].get(f"{impl} / {flow}")
    if not entry or entry.get("status") != "ok":
        return None
    return entry.get("median", {}).get(str(conns))


def rps(doc, impl, flow, conns):
    m = med(doc, impl, flow, conns)
    return m["rps"] if m else None


def p99(doc, impl, flow, conns):
    m = med(doc, impl, flow, conns)
    return m["latency_ms"]["p99"] if m else None


def per_cpu_second(doc, impl, flow, conns):
    """Requests per second of server CPU (1e6 ÷ µs/request): throughput per core with the noise
    of a shared machine taken out, since it divides by the CPU the server actually got."""
    m = med(doc, impl, flow, conns)
    return 1e6 / m["cpu_us_per_request"] if m and m.get("cpu_us_per_request") else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(value, spec="{:,.0f}", missing="—"):
    return missing if value is None else spec.format(value)


def status_note(doc, impl, flow) -> str:
    entry = doc["targets"].get(f"{impl} / {flow}")
    if entry is None:
        return "not in this run"
    return entry["status"].replace("_", " ")


def impl_label(impl, flow) -> str:
    if impl == peers.NJS and flow == "F2":
        return "nginx plain proxy"
    if impl == peers.NJS_LOG and flow == "F2":
        return "nginx plain proxy (access log on)"
    return impl


def peer_rps(doc, impl, flow, conns):
    """A peer's requests/s for a flow; nginx + Lua's F2 is the plain nginx proxy (F2_PEER)."""
    if flow == "F2":
        impl = peers.F2_PEER.get(impl, impl)
    return rps(doc, impl, flow, conns)


def peer_per_cpu_second(doc, impl, flow, conns):
    if flow == "F2":
        impl = peers.F2_PEER.get(impl, impl)
    return per_cpu_second(doc, impl, flow, conns)


def targets_section(doc) -> list[str]:
    conns = doc["meta"]["connections"]
    lines = ["| target | measured (per connection count) | verdict |", "|---|---|---|"]

    def row(title, flow, mine, theirs, want, compare, spec):
        cells, verdicts = [], []
        for c in conns:
            a, b = mine(c), theirs(c)
            if a is None or b is None:
                cells.append(f"c={c}: n/a")
                verdicts.append(None)
                continue
            value = compare(a, b)
            ok = value >= want if compare is ratio else value <= want
            cells.append(f"c={c}: {spec.format(value)} {'✓' if ok else '✗'}")
            verdicts.append(ok)
        if any(v is None for v in verdicts):
            why = status_note(doc, peers.JQGATE, flow)
            verdict = f"**not measured** (jqgate {why})" if why != "ok" else "**not measured**"
        else:
            verdict = "**met**" if all(verdicts) else "**short**"
        lines.append(f"| {title} | {'; '.join(cells)} | {verdict} |")

    J, N, L, A = peers.JQGATE, peers.NJS, peers.LUA, peers.AIOHTTP
    JL, NL, LL = peers.JQGATE_LOG, peers.NJS_LOG, peers.LUA_LOG
    # Each throughput target twice: as measured by wrk, and per server CPU-second (1e6 ÷ µs per
    # request). On a crowded machine the server may not get its whole core, and then the second
    # is the "per core" figure; when the machine is quiet the two agree. Issue #13's targets
    # hold with the access logs off and again with both on (to a file).
    for title, flow, mine, other, want in (
            ("F1 ≥ 1.2× nginx+njs requests/s per core", "F1", J, N, 1.2),
            ("F1 ≥ 1.2× nginx+lua requests/s per core", "F1", J, L, 1.2),
            ("F1 ≥ 8× aiohttp+jq requests/s", "F1", J, A, 8.0),
            ("F2 ≥ 1.0× nginx plain proxy requests/s", "F2", J, N, 1.0),
            ("F1, access logs on, ≥ 1.2× nginx+njs", "F1", JL, NL, 1.2),
            ("F1, access logs on, ≥ 1.2× nginx+lua", "F1", JL, LL, 1.2),
            ("F2, access logs on, ≥ 1.0× nginx plain proxy", "F2", JL, NL, 1.0),
            # issue #17: over TLS, kept-alive and one handshake per request
            ("TLS F2 ≥ 0.8× nginx TLS proxy", "F2", peers.JQGATE_TLS, peers.NGINX_TLS, 0.8),
            ("TLS handshakes/s (F2, new connection per request) ≥ 0.8× nginx", "F2",
             peers.JQGATE_HANDSHAKE, peers.NGINX_HANDSHAKE, 0.8)):
        if f"{mine} / {flow}" not in doc["targets"]:
            continue
        row(f"{title} — wrk req/s", flow, lambda c, f=flow, m=mine: rps(doc, m, f, c),
            lambda c, f=flow, o=other: peer_rps(doc, o, f, c), want, ratio, "{:.2f}×")
        row(f"{title} — per server CPU-second", flow,
            lambda c, f=flow, m=mine: per_cpu_second(doc, m, f, c),
            lambda c, f=flow, o=other: peer_per_cpu_second(doc, o, f, c), want, ratio, "{:.2f}×")
        if flow == "F1" and other in (N, L, NL, LL):
            row(f"F1 p99 ≤ {other} p99 ({mine} − {other})", "F1",
                lambda c, m=mine: p99(doc, m, "F1", c),
                lambda c, o=other: p99(doc, o, "F1", c), 0.0, lambda a, b: a - b, "{:+.2f} ms")
    idle = doc.get("idle", {}).get(J)
    if idle and idle.get("status") == "ok":
        complete = idle["opened"] == idle["count"] and idle["still_open_after_idle"] == idle["count"]
        ok = complete and idle["rss_idle_mib"] <= IDLE_LIMIT_MIB
        lines.append(f"| {idle['count']:,} idle keep-alive connections ≤ {IDLE_LIMIT_MIB} MiB RSS | "
                     f"{idle.get('flow', 'F1')}: {idle['rss_idle_mib']:.1f} MiB with {idle['still_open_after_idle']:,} of "
                     f"{idle['count']:,} open | **{'met' if ok else 'short'}** |")
    else:
        why = (idle or {}).get("status", "not run")
        lines.append(f"| 10,000 idle keep-alive connections ≤ {IDLE_LIMIT_MIB} MiB RSS | — | "
                     f"**not measured** (jqgate {why.replace('_', ' ')}) |")
    return lines


def flow_rows(doc):
    """(flow, impl) pairs in table order; ceilings once, under their own heading."""
    flows = [f for f in layout.FLOW_PATHS if any(v["flow"] == f for v in doc["targets"].values())]
    for flow in flows:
        for impl in peers.COMPARED:
            if f"{impl} / {flow}" in doc["targets"]:
                yield flow, impl
    for impl in peers.CEILINGS:
        if f"{impl} / fixed" in doc["targets"]:
            yield "fixed", impl


def throughput_section(doc) -> list[str]:
    conns = doc["meta"]["connections"]
    lines = ["| flow | implementation | " + " | ".join(f"c={c}" for c in conns) + " |",
             "|---|---|" + "---:|" * len(conns)]
    for flow, impl in flow_rows(doc):
        entry = doc["targets"][f"{impl} / {flow}"]
        if entry["status"] != "ok":
            cells = [f"**{entry['status'].replace('_', ' ')}**"] + [""] * (len(conns) - 1)
        else:
            cells = [fmt(rps(doc, impl, flow, c)) for c in conns]
        lines.append(f"| {flow} | {impl_label(impl, flow)} | " + " | ".join(cells) + " |")
    return lines


def latency_section(doc) -> list[str]:
    conns = doc["meta"]["connections"]
    lines = ["| flow | implementation | " + " | ".join(f"c={c} p50 / p99 / p99.9" for c in conns) + " |",
             "|---|---|" + "---:|" * len(conns)]
    for flow, impl in flow_rows(doc):
        cells = []
        for c in conns:
            m = med(doc, impl, flow, c)
            cells.append("—" if not m else " / ".join(f"{m['latency_ms'][k]:.2f}" for k in ("p50", "p99", "p99.9")))
        lines.append(f"| {flow} | {impl_label(impl, flow)} | " + " | ".join(cells) + " |")
    return lines


def cost_section(doc) -> list[str]:
    conns = doc["meta"]["connections"]
    lines = ["Server CPU µs per request (utime+stime of the server's processes ÷ requests completed), "
             "with the share of a core the server got during the run in brackets: well under 100% at high "
             "connection counts means the server was not the bottleneck (or was crowded out by other work "
             "on this shared machine).", "",
             "| flow | implementation | " + " | ".join(f"µs/req c={c}" for c in conns)
             + " | peak RSS (MiB) | errors |", "|---|---|" + "---:|" * (len(conns) + 2)]

    def cell(m):
        if not m or m.get("cpu_us_per_request") is None:
            return "—"
        return f"{m['cpu_us_per_request']:.1f} ({100 * (m.get('server_cpu_share') or 0):.0f}%)"
    for flow, impl in flow_rows(doc):
        entry = doc["targets"][f"{impl} / {flow}"]
        cells = [cell(med(doc, impl, flow, c)) for c in conns]
        peak = entry.get("memory", {}).get("peak_rss_kib")
        errors = sum(m["errors"] for m in entry.get("median", {}).values())
        lines.append(f"| {flow} | {impl_label(impl, flow)} | " + " | ".join(cells)
                     + f" | {fmt(peak and peak / 1024, '{:.1f}')} | {errors} |")
    return lines


def ratio_section(doc) -> list[str]:
    conns = doc["meta"]["connections"]
    J = peers.JQGATE
    lines = ["Requests/s ratios as measured; the last three columns divide requests per server CPU-second "
             "instead (the per-core comparison when servers do not get their whole core). For F2 the "
             "nginx peer of both nginx+njs and nginx+lua is the plain reverse proxy.", "",
             "| flow | c | jqgate req/s | ÷ nginx+njs | ÷ nginx+lua | ÷ aiohttp+jq | ÷ uvloop+httptools ceiling | "
             "÷ nginx fixed-200 ceiling | per CPU-s ÷ nginx+njs | per CPU-s ÷ nginx+lua | per CPU-s ÷ aiohttp+jq |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for flow in layout.FLOW_PATHS:
        if f"{J} / {flow}" not in doc["targets"]:
            continue
        for c in conns:
            mine = rps(doc, J, flow, c)
            cells = [fmt(mine)] + [fmt(ratio(mine, other), "{:.2f}×") for other in (
                peer_rps(doc, peers.NJS, flow, c), peer_rps(doc, peers.LUA, flow, c),
                rps(doc, peers.AIOHTTP, flow, c),
                rps(doc, peers.UVLOOP, "fixed", c), rps(doc, peers.DIRECT, "fixed", c))]
            mine_cpu = per_cpu_second(doc, J, flow, c)
            cells += [fmt(ratio(mine_cpu, peer_per_cpu_second(doc, other, flow, c)), "{:.2f}×")
                      for other in (peers.NJS, peers.LUA, peers.AIOHTTP)]
            lines.append(f"| {flow} | {c} | " + " | ".join(cells) + " |")
    lines += ["", "With the access logs on, to a file (jqgate's default buffered log against nginx's "
              f"`{peers.NGINX_ACCESS_LOG}`):", "",
              "| flow | c | jqgate (log on) req/s | ÷ nginx+njs (log on) | ÷ nginx+lua (log on) | "
              "per CPU-s ÷ nginx+njs (log on) | per CPU-s ÷ nginx+lua (log on) | ÷ jqgate (log off) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    JL = peers.JQGATE_LOG
    for flow in layout.FLOW_PATHS:
        if f"{JL} / {flow}" not in doc["targets"]:
            continue
        for c in conns:
            mine = rps(doc, JL, flow, c)
            mine_cpu = per_cpu_second(doc, JL, flow, c)
            cells = [fmt(mine)]
            cells += [fmt(ratio(mine, peer_rps(doc, o, flow, c)), "{:.2f}×")
                      for o in (peers.NJS_LOG, peers.LUA_LOG)]
            cells += [fmt(ratio(mine_cpu, peer_per_cpu_second(doc, o, flow, c)), "{:.2f}×")
                      for o in (peers.NJS_LOG, peers.LUA_LOG)]
            cells.append(fmt(ratio(mine, rps(doc, J, flow, c)), "{:.2f}×"))
            lines.append(f"| {flow} | {c} | " + " | ".join(cells) + " |")
    return lines


def idle_section(doc) -> list[str]:
    idle = doc.get("idle") or {}
    if not idle:
        return ["Not run."]
    lines = ["| implementation | flow | connections open after idle | RSS before (MiB) | RSS idle (MiB) | PSS idle (MiB) | processes | failures |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for impl, r in idle.items():
        if r.get("status") != "ok":
            lines.append(f"| {impl} | | **{r.get('status', '?').replace('_', ' ')}** | | | | | |")
            continue
        lines.append(f"| {impl} | {r.get('flow', 'F1')} | {r['still_open_after_idle']:,} / {r['count']:,} | {r['rss_before_mib']:.1f} | "
                     f"{r['rss_idle_mib']:.1f} | {r.get('pss_idle_mib', 0):.1f} | {r.get('processes', '')} | {r['failures']} |")
    return lines


def multi_section(doc) -> list[str]:
    multi = doc.get("multi_worker") or {}
    if not multi:
        return ["Not run."]
    c = multi["connections"]
    lines = [f"F1, {multi['workers']} workers each, on cores {multi['cores']} (shared with the mocks and wrk), "
             f"{c} connections, median of {doc['meta']['repetitions']}:", "",
             "| implementation | req/s | p99 (ms) | server CPU µs/req |", "|---|---:|---:|---:|"]
    for key, entry in multi["targets"].items():
        m = entry.get("median", {}).get(str(c)) if entry["status"] == "ok" else None
        if not m:
            lines.append(f"| {entry['impl']} | **{entry['status'].replace('_', ' ')}** | | |")
            continue
        lines.append(f"| {entry['impl']} | {m['rps']:,.0f} | {m['latency_ms']['p99']:.2f} | "
                     f"{fmt(m['cpu_us_per_request'], '{:.1f}')} |")
    return lines


def http2_section(doc) -> list[str]:
    """F2 over HTTP/2 (h2load): jqgate against nginx `http2`, the issue's target 0.7x nginx."""
    h2 = doc.get("http2") or {}
    if not h2:
        return ["Not run."]
    targets = h2["targets"]
    lines = [f"F2 over HTTP/2 with h2c prior knowledge, `h2load -m {h2['streams']}` on the load core, "
             "server on the server core, median of repetitions. Target: jqgate ≥ 0.7 × nginx.", "",
             "| implementation | connections | req/s | server CPU µs/req | errors |", "|---|---:|---:|---:|---:|"]
    for entry in targets.values():
        if entry["status"] != "ok":
            lines.append(f"| {entry['impl']} | | **{entry['status'].replace('_', ' ')}** | | |")
            continue
        for c, m in entry.get("median", {}).items():
            lines.append(f"| {entry['impl']} | {c} | {m['rps']:,.0f} | {fmt(m['cpu_us_per_request'], '{:.1f}')} | "
                         f"{m['errors']} |")
    ours = [e for e in targets.values() if e["impl"].startswith("jqgate") and e["status"] == "ok"]
    theirs = [e for e in targets.values() if e["impl"].startswith("nginx") and e["status"] == "ok"]
    if ours and theirs:
        lines += [""]
        for c in ours[0].get("median", {}):
            a, b = ours[0]["median"].get(c), theirs[0].get("median", {}).get(c)
            if a and b and b["rps"]:
                ratio = a["rps"] / b["rps"]
                cpu = (b["cpu_us_per_request"] / a["cpu_us_per_request"]
                       if a["cpu_us_per_request"] and b["cpu_us_per_request"] else None)
                lines.append(f"- {c} connections: jqgate/nginx {ratio:.2f}× by req/s"
                             + (f", {cpu:.2f}× per server CPU-second" if cpu else "")
                             + f" — **{'met' if ratio >= 0.7 else 'short'}**")
    return lines


def problems_section(doc) -> list[str]:
    lines = []
    multi = doc.get("multi_worker") or {}
    everything = list(doc["targets"].items()) + [
        (f"{key} ({multi['workers']} workers)", entry) for key, entry in multi.get("targets", {}).items()] + list(
        (doc.get("http2") or {}).get("targets", {}).items())
    for key, entry in everything:
        if entry["status"] != "ok":
            error = (entry.get("error") or "").strip().replace("\n", "\n    ")
            lines.append(f"- **{key}: {entry['status'].replace('_', ' ')}**\n\n    {error[:1500]}\n")
    return lines


def _median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def reading_note(doc) -> list[str]:
    """When the servers did not use their whole core, say so and say who did (from /proc/stat)."""
    meta = doc["meta"]
    medians = [m for entry in doc["targets"].values() if entry["status"] == "ok"
               for m in entry.get("median", {}).values()]
    shares = [m["server_cpu_share"] for m in medians if m.get("server_cpu_share") is not None]
    typical = _median(shares)
    if typical is None or typical >= 0.8:
        return []
    core = str(meta["server_core"]).split(",")[0]
    busy = _median([m.get("core_busy", {}).get(core) for m in medians])
    load_busy = _median([m.get("core_busy", {}).get(str(meta["load_core"])) for m in medians])
    mocks = _median([m.get("mocks_cpu_share") for m in medians])
    where = ""
    if busy is not None:
        where = (f" The server core was {100 * busy:.0f}% busy during the runs (median) and the load core "
                 f"{100 * (load_busy or 0):.0f}% (the mocks used {100 * (mocks or 0):.0f}% of it): other processes "
                 "on this shared machine took the rest, so the servers were time-sliced with them.")
    return [f"**Reading this run**: the measured servers used a median {100 * typical:.0f}% of their core "
            f"(range {100 * min(shares):.0f}–{100 * max(shares):.0f}%), so their own work was not what limited "
            f"requests/s.{where} The wrk requests/s understate every implementation and compress the ratios "
            "toward 1; the per server CPU-second figures (server cost table and plot, last ratio columns, "
            "second row of each throughput target) are the per-core comparison.", ""]


def render(doc: dict, json_path: Path, plots: list[Path]) -> str:
    meta = doc["meta"]
    rel = json_path.relative_to(layout.BENCH) if json_path.is_relative_to(layout.BENCH) else json_path
    out = [
        "# Benchmark results", "",
        f"Generated by `bench/report.py` from [`{rel}`]({rel}) — **{meta['mode']} run** of {meta['date']} "
        f"(`{meta['command'].strip()}`, {meta['wall_s'] / 60:.1f} min).", "",
        f"Method: each server on core {meta['server_core']} (`taskset`; nginx `worker_processes 1`; jqgate "
        f"`--workers 1`), mocks and wrk on core {meta['load_core']}; {meta['warmup_s']:g} s warm-up per target, then "
        f"{meta['repetitions']} × {meta['duration_s']:g} s `wrk -t{meta['wrk_threads']} --latency` per connection "
        f"count, medians reported; server CPU from `/proc/<pid>/stat` around each run"
        + (f"; servers, mocks and wrk at nice {meta['nice']}" if meta.get("nice") else "") + f". Machine: {meta['cpu']}, "
        f"{meta['cores']} cores (shared, noisy), kernel {meta['kernel']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v) + ".", "",
    ]
    load = meta.get("loadavg_1m")
    if load:
        # The load average counts this benchmark's own processes too; whether other work crowded the
        # servers is judged from their core share (reading_note), not from this number.
        out += [f"1-minute load average {load['start']:.1f} at the start and {load['end']:.1f} at the end.", ""]
    out += reading_note(doc)
    if meta["mode"] == "quick":
        out += ["> **Quick mode**: a smoke run (short runs, one repetition, fewer connection counts). "
                "Its figures are indicative only; `make bench` produces the full run.", ""]
    problems = problems_section(doc)
    if problems:
        out += ["## Not measured", "", "These targets could not be run or did not produce their flow's result; "
                "they are reported, not skipped:", ""] + problems
    out += ["## Targets", "",
            "Each throughput target is shown as measured by wrk and per server CPU-second (1e6 ÷ server CPU µs "
            "per request): when other work crowds the machine the server does not get its whole core, and the "
            "second is the per-core figure. ✓/✗ per connection count; *met* means met at every one.", ""]
    out += targets_section(doc) + [""]
    out += ["## Throughput (requests/s, median)", "",
            "F2 for nginx is the plain reverse proxy (`peers/plain_proxy.conf`); the ceilings serve a fixed "
            "answer and have no flow.", ""] + throughput_section(doc) + [""]
    out += ["## Ratios", ""] + ratio_section(doc) + [""]
    out += ["## Latency (ms, median of repetitions)", ""] + latency_section(doc) + [""]
    out += ["## Server cost", ""] + cost_section(doc) + [""]
    out += ["## Idle keep-alive connections", "",
            "Each connection sends one request (of the flow named in the table), then stays open and idle; RSS of the server's process tree "
            "from `/proc` after the idle period (summed over its processes, so pages a master shares with its "
            "workers count once per process; PSS splits them instead). The target is judged on RSS.", ""] + idle_section(doc) + [""]
    out += ["## Multi-worker", ""] + multi_section(doc) + [""]
    out += ["## HTTP/2", ""] + http2_section(doc) + [""]
    if plots:
        out += ["## Plots", ""] + [f"![{p.stem}](results/{p.name})" for p in plots] + [""]
    return "\n".join(out)


def write_results_md(doc: dict, json_path: Path, plots: list[Path]) -> Path:
    path = layout.BENCH / "RESULTS.md"
    path.write_text(render(doc, json_path, plots))
    return path


if __name__ == "__main__":
    import plot
    source = Path(sys.argv[1]).resolve()
    document = json.loads(source.read_text())
    written = plot.write_plots(document, layout.RESULTS)
    print(write_results_md(document, source, written))
