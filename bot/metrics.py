"""The daemon's optional HTTP endpoint (WATCHBOT_METRICS_ADDR): ``/healthz`` and ``/metrics``.

Every answer is computed from the state database at request time (a fresh read-only view per
request, in the server's own thread), so the endpoint adds no counters to the pipeline and
agrees with `watchbot status` and `watchbot health` by construction. prometheus_client writes
the exposition format; wsgiref serves it (the same pair prometheus_client's own
start_http_server uses).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bot.config import Settings, load_feeds, metrics_address
from bot.health import assess


class _StateCollector:
    """Prometheus collector reading the store on every scrape."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]):
        self.settings = settings
        self.clock = clock

    def collect(self) -> Iterable:
        from bot.storage import open_store

        feeds = load_feeds(self.settings.watchbot_feeds)[0]
        listed = {f.url for f in feeds}
        store = open_store(self.settings)
        try:
            states = [fs for fs in store.feed_states() if fs.url in listed]
            counts = store.outbox_counts()
            health = assess(store, self.settings, self.clock(), feeds)
        finally:
            store.close()
        by_state = GaugeMetricFamily("watchbot_feeds", "Listed feeds by state.", labels=["state"])
        paused = sum(1 for fs in states if fs.paused_reason)
        failing = sum(1 for fs in states if fs.consecutive_errors and not fs.paused_reason)
        by_state.add_metric(["ok"], len(states) - paused - failing)
        by_state.add_metric(["failing"], failing)
        by_state.add_metric(["paused"], paused)
        yield by_state
        items = CounterMetricFamily("watchbot_items", "Items recorded from all listed feeds.")
        items.add_metric([], sum(fs.items_total for fs in states))
        yield items
        outbox = GaugeMetricFamily("watchbot_outbox", "Outbox rows by status.", labels=["status"])
        for status in ("pending", "sent", "maybe_sent", "rejected", "superseded", "orphaned"):
            outbox.add_metric([status], counts.get(status, 0))
        yield outbox
        fetched = [fs.last_fetch for fs in states if fs.last_fetch]
        last = GaugeMetricFamily("watchbot_last_fetch_timestamp_seconds",
                                 "Unix time of the most recent fetch of any listed feed.")
        last.add_metric([], max(fetched).timestamp() if fetched else 0)
        yield last
        healthy = GaugeMetricFamily("watchbot_healthy", "1 when `watchbot health` would exit 0.")
        healthy.add_metric([], 1 if health.ok else 0)
        yield healthy


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # scrapes every 15 s must not flood the log
        pass


class MetricsServer:
    """``/healthz`` and ``/metrics`` on WATCHBOT_METRICS_ADDR, in a daemon thread."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_StateCollector(settings, self.clock))
        self._metrics = make_wsgi_app(registry)
        host, port = metrics_address(settings.watchbot_metrics_addr)
        self._server: WSGIServer = make_server(host, port, self._app, handler_class=_QuietHandler)
        self.address = f"{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="watchbot-metrics",
                                        daemon=True)

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path == "/healthz":
            from bot.storage import open_store

            store = open_store(self.settings)
            try:
                health = assess(store, self.settings, self.clock(), load_feeds(self.settings.watchbot_feeds)[0])
            finally:
                store.close()
            body = json.dumps({"ok": health.ok, "problems": health.problems, **health.facts}).encode()
            start_response("200 OK" if health.ok else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /healthz or /metrics\n"]

    def start(self) -> "MetricsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
