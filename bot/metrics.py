"""Prometheus metrics, in a registry owned by the running app (no global default registry)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["Metrics"]


@dataclass(frozen=True, slots=True)
class Metrics:
    """The bot's counters, exposed at ``GET /metrics``."""

    registry: CollectorRegistry
    requests: Counter
    images: Counter
    spend_micros: Counter
    generation_seconds: Histogram

    @classmethod
    def create(cls) -> Metrics:
        """A fresh registry with every metric registered."""
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "imagebot_requests",
                "Image requests by outcome (done, failed, refused, duplicate, invalid).",
                ["outcome"],
                registry=registry,
            ),
            images=Counter(
                "imagebot_images", "Images generated, by model.", ["model"], registry=registry
            ),
            spend_micros=Counter(
                "imagebot_spend_micros",
                "Money settled in the ledger, in micro-USD, by model.",
                ["model"],
                registry=registry,
            ),
            generation_seconds=Histogram(
                "imagebot_generation_seconds",
                "Time from reservation to settled result.",
                buckets=(1, 2, 5, 10, 20, 40, 60, 120, 300),
                registry=registry,
            ),
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
