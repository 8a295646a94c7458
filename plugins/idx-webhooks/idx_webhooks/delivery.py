"""Webhook deliveries: the signed request, one attempt, and a background worker that
retries failed attempts with exponential backoff, a bounded number of times."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import ipaddress
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from idx_webhooks import __version__

log = logging.getLogger("idx.webhooks")

SIGNATURE_HEADER = "X-Idx-Signature"
#: The longest wait between two attempts, whatever the backoff.
MAX_BACKOFF = 600.0
#: Deliveries waiting beyond this many are dropped (and logged as such).
MAX_PENDING = 1000
#: How long a stopping server goes on sending the deliveries due by then.
STOP_DRAIN_SECONDS = 5.0


def signature(secret: str, body: bytes) -> str:
    """The ``X-Idx-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: compare in constant time."""
    return hmac.compare_digest(signature(secret, body), header)


@dataclass(frozen=True)
class Delivery:
    """One event body on its way to one URL."""

    id: str
    index: str
    event: str
    url: str
    body: bytes
    secret: str = ""
    #: Attempts made so far.
    attempts: int = 0

    def headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"idx-webhooks/{__version__}",
            "X-Idx-Event": self.event,
            "X-Idx-Delivery": self.id,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = signature(self.secret, self.body)
        return headers


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: ``ok``, or whether trying again may help."""

    ok: bool
    retry: bool = False
    http_status: int | None = None
    error: str = ""
    duration_ms: float = 0.0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx is reported, never followed (it would turn the POST into a GET)


_opener = urllib.request.build_opener(_NoRedirects)


def blocked_address(url: str, blocked: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """The first address ``url``'s host resolves to inside ``blocked``, or ""."""
    networks = list(blocked)
    if not networks:
        return ""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 80, proto=socket.IPPROTO_TCP)
    except OSError:
        return ""  # the attempt itself reports the name failure
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if any(address in network for network in networks):
            return str(address)
    return ""


def send(
    delivery: Delivery,
    timeout: float,
    blocked: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
) -> Outcome:
    """POST ``delivery`` once. 2xx is success; network errors, timeouts, 408, 429 and 5xx
    may be retried; any other answer (and a blocked address) is final."""
    address = blocked_address(delivery.url, blocked)
    if address:
        return Outcome(False, error=f"refused: {address} is in webhooks_blocked_networks")
    # webhook_urls are checked to be http(s) when they are set.
    request = urllib.request.Request(delivery.url, data=delivery.body, headers=delivery.headers())  # noqa: S310
    start = time.perf_counter()
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except (OSError, ValueError) as exc:
        return Outcome(False, retry=True, error=str(getattr(exc, "reason", exc)) or type(exc).__name__)
    elapsed = round((time.perf_counter() - start) * 1000, 1)
    if 200 <= status < 300:
        return Outcome(True, http_status=status, duration_ms=elapsed)
    retry = status in (408, 429) or status >= 500
    return Outcome(False, retry=retry, http_status=status, error=f"HTTP {status}", duration_ms=elapsed)


Sender = Callable[[Delivery], Outcome]
Recorder = Callable[[Delivery, str, Outcome | None], None]


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    delivery: Delivery = field(compare=False)


class Deliverer:
    """Runs deliveries on one daemon thread: the first attempt at once, then up to
    ``retries`` more after ``backoff``, ``2 * backoff``, ... seconds (at most MAX_BACKOFF).

    ``record(delivery, state, outcome)`` is told every change: state is ``pending``,
    ``retrying``, ``delivered``, ``failed`` or ``dropped``.
    """

    def __init__(self, sender: Sender, record: Recorder, retries: int, backoff: float) -> None:
        self._send = sender
        self._record = record
        self.retries = retries
        self.backoff = backoff
        self._heap: list[_Scheduled] = []
        self._seq = 0
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        #: Set by stop(): deliveries due by then are still sent until this time.
        self._drain_until: float | None = None
        self.delivered = 0
        self.failed = 0

    def submit(self, delivery: Delivery) -> None:
        with self._cond:
            if len(self._heap) >= MAX_PENDING:
                log.warning(
                    "webhook %s to %s dropped: %d deliveries pending", delivery.id, delivery.url, MAX_PENDING
                )
                self.failed += 1
                self._record(delivery, "dropped", None)
                return
            self._record(delivery, "pending", None)
            self._schedule(delivery, time.monotonic())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="idx-webhooks", daemon=True)
                self._thread.start()

    def _schedule(self, delivery: Delivery, due: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Scheduled(due, self._seq, delivery))
        self._cond.notify_all()

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return min(self.backoff * 2.0 ** (attempts - 1), MAX_BACKOFF)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0].due > time.monotonic()):
                    if self._drain_until is not None:
                        self._stopped = True  # stopping, and nothing more is due
                        break
                    timeout = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._drain_until is not None and time.monotonic() >= self._drain_until:
                    self._stopped = True
                if self._stopped:
                    self._cond.notify_all()
                    return
                delivery = heapq.heappop(self._heap).delivery
                self._busy += 1
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, delivery: Delivery) -> None:
        delivery = replace(delivery, attempts=delivery.attempts + 1)
        try:
            outcome = self._send(delivery)
        except Exception as exc:  # a bug must not kill the worker
            log.exception("webhook %s to %s: unexpected error", delivery.id, delivery.url)
            outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}")
        if outcome.ok:
            self.delivered += 1
            self._record(delivery, "delivered", outcome)
        elif outcome.retry and delivery.attempts <= self.retries:
            self._record(delivery, "retrying", outcome)
            with self._cond:
                self._schedule(delivery, time.monotonic() + self.delay(delivery.attempts))
        else:
            self.failed += 1
            log.warning("webhook %s to %s failed: %s", delivery.id, delivery.url, outcome.error)
            self._record(delivery, "failed", outcome)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._busy

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until nothing is pending (retries included); for tests."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self, drain: float = 0.0) -> None:
        """Stop the worker; with ``drain``, first send for up to that many seconds the
        deliveries due by now (not the retries waiting for their backoff). What is left
        is logged, and the delivery log shows it as ``interrupted`` after a restart."""
        with self._cond:
            thread = self._thread
            if drain > 0 and thread is not None and not self._stopped:
                self._drain_until = time.monotonic() + drain
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._stopped, drain)
            self._stopped = True
            self._cond.notify_all()
            left = len(self._heap) + self._busy
        if left:
            log.warning(
                "%d webhook deliveries were not sent before the server stopped "
                "(shown as interrupted after the restart)",
                left,
            )
