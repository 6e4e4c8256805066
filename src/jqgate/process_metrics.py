"""process_* metrics for the gateway as a whole: with `--workers N` one scrape reaches the
parent, which reads every worker's /proc entry too (same machine, same user).

prometheus_client's ProcessCollector reads one process; a Prometheus family may appear only
once, so the processes' values are combined: CPU seconds, memory and open descriptors add up
(what the gateway uses in total), the start time is the earliest (when the gateway started),
the descriptor limit is the smallest (the first process to run out fails requests).
"""
from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector

_COMBINE = {"process_start_time_seconds": min, "process_max_fds": min}


class GatewayProcessCollector:
    def __init__(self, pids):
        self.pids = list(pids)

    def collect(self):
        values: dict[str, list[float]] = {}
        docs: dict[str, tuple[str, str]] = {}
        for pid in self.pids:
            # registry=None: read on demand, registered nowhere
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                name = family.name + ("_total" if family.type == "counter" else "")
                docs[name] = (family.type, family.documentation)
                values.setdefault(name, []).extend(s.value for s in family.samples)
        for name, samples in values.items():
            kind, documentation = docs[name]
            value = _COMBINE.get(name, sum)(samples)
            if kind == "counter":
                yield CounterMetricFamily(name[:-len("_total")], documentation, value=value)
            else:
                yield GaugeMetricFamily(name, documentation, value=value)
