"""Prometheus metrics: requests, latencies, queue depth, tokens, answers by mode, index version."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("rag_requests_total", "HTTP requests", ["route", "status"], registry=r)
        self.latency = Histogram(
            "rag_request_seconds", "request latency (to the last byte)", ["route"], registry=r,
            buckets=(0.025, 0.05, 0.08, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 40, 80),
        )  # fmt: skip
        self.ttft = Histogram(
            "rag_ttft_seconds", "time to the first answer text", registry=r, buckets=(0.5, 1, 2, 4, 6, 8, 12, 20, 40)
        )
        self.queue_depth = Gauge("rag_queue_depth", "answers waiting or generating", registry=r)
        self.tokens = Counter("rag_tokens_total", "LLM tokens", ["kind"], registry=r)
        self.answers = Counter("rag_answers_total", "answers by mode", ["mode"], registry=r)
        self.index = Gauge("rag_index_info", "the index version being served", ["version"], registry=r)
        self.rejected = Counter("rag_rejected_total", "requests refused", ["reason"], registry=r)
        self.upstream_up = Gauge("rag_llm_upstream_up", "1 when the LLM upstream takes requests", ["upstream"],
                                 registry=r)  # fmt: skip
        self.upstream_in_flight = Gauge("rag_llm_upstream_in_flight", "requests at the LLM upstream", ["upstream"],
                                        registry=r)  # fmt: skip
        self.upstream_failed = Gauge("rag_llm_upstream_failed", "failures of the LLM upstream since start",
                                     ["upstream"], registry=r)  # fmt: skip

    def set_upstreams(self, states: list[dict[str, object]]) -> None:
        for s in states:
            name = str(s["name"])
            self.upstream_up.labels(upstream=name).set(1 if s["up"] else 0)
            self.upstream_in_flight.labels(upstream=name).set(float(s["in_flight"]))  # type: ignore[arg-type]
            self.upstream_failed.labels(upstream=name).set(float(s["failed"]))  # type: ignore[arg-type]

    def set_index(self, version: str) -> None:
        self.index.clear()
        self.index.labels(version=version).set(1)
