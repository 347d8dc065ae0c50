"""Request counters and latency totals, rendered in Prometheus' text format.

Labels are operation names, status codes and error names only: never collection, user or
face names, and never anything from an image.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict


class Metrics:
    """Thread-safe counters of requests, errors and time spent per operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._seconds: defaultdict[str, float] = defaultdict(float)
        self._errors: Counter[str] = Counter()
        self.in_flight = 0

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def observe(self, operation: str, status: int, elapsed_ms: float) -> None:
        with self._lock:
            self._requests[(operation, status)] += 1
            self._seconds[operation] += elapsed_ms / 1000.0

    def error(self, code: str) -> None:
        with self._lock:
            self._errors[code] += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP facewise_requests_in_flight Rekognition requests being answered now.",
                "# TYPE facewise_requests_in_flight gauge",
                f"facewise_requests_in_flight {self.in_flight}",
                "# HELP facewise_requests_total Requests answered, by operation and status.",
                "# TYPE facewise_requests_total counter",
                *(
                    f'facewise_requests_total{{operation="{op}",status="{status}"}} {count}'
                    for (op, status), count in sorted(self._requests.items())
                ),
                "# HELP facewise_request_seconds_total Time spent answering, by operation.",
                "# TYPE facewise_request_seconds_total counter",
                *(
                    f'facewise_request_seconds_total{{operation="{op}"}} {seconds:.6f}'
                    for op, seconds in sorted(self._seconds.items())
                ),
                "# HELP facewise_errors_total Error responses, by Rekognition error name.",
                "# TYPE facewise_errors_total counter",
                *(
                    f'facewise_errors_total{{code="{code}"}} {count}'
                    for code, count in sorted(self._errors.items())
                ),
            ]
        return "\n".join(lines) + "\n"
