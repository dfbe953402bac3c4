"""A small HTTP client for the papers site's API, around httpx.

One `Client` per run: connections are reused, requests are spaced to a polite
rate, transient failures (connection errors, 429, 5xx) are retried with
exponential backoff and jitter, honouring Retry-After; redirects are followed
only on the site itself, and bodies are read as a stream with a size cap.

httpx is imported here only, and this module only by the commands that fetch (late,
in their verbs): other commands never pay for it at start-up.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from papers_cli import __version__

USER_AGENT = f"papers/{__version__} (papers-cli; Daily Papers corpus tool)"
MAX_BYTES = 50 << 20
MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
JSON_TYPES = ("application/json", "text/json", "text/plain", "application/octet-stream")


class FetchError(Exception):
    """A request that failed for good (after any retries); `str()` is the reason."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason
        self.status = status


class Unreachable(FetchError):
    """The site could not be reached at all (DNS, refused connection, no route)."""


class NotFound(FetchError):
    """HTTP 404."""


@dataclass
class HttpConfig:
    """Everything that shapes requests; tests shrink the timings."""

    base_url: str = "https://huggingface.co"
    rate: float = 2.0  # requests per second at most
    timeout: float = 30.0  # connect and per-read timeout, seconds
    total_timeout: float = 300.0  # a whole response, however slowly it trickles
    retries: int = 4  # extra attempts after the first
    backoff: float = 1.0  # first retry waits about this long, then doubles
    max_backoff: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After is an error, not a wait
    max_bytes: int = MAX_BYTES
    token: str | None = field(default=None, repr=False)  # never shown


@dataclass
class Response:
    url: str  # the URL asked for (not a redirect target): it names the page
    status: int
    content_type: str
    body: bytes
    fetched_at: str


def site_of(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) of a URL: what 'the same site' means for redirects."""
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower() + (
        f":{parts.port}" if parts.port else "")


def host_of(url: str) -> str:
    """The host (and port, if any) of a URL, as messages name it."""
    return site_of(url)[1]


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


def _is_json_type(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return not base or base in JSON_TYPES or base.endswith("+json")


class Client:
    """GET with retries, rate limit, same-site redirects and a size cap."""

    def __init__(self, config: HttpConfig, *, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.config = config
        self._sleep = sleep
        self._jitter = jitter
        self._last_start: float | None = None
        self.requests = 0  # sent, retries included
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        t = config.timeout
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=t),
            follow_redirects=False,  # followed by hand, only on the same site
            # A proxy from the environment is honoured, as curl does.
            trust_env=True,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _wait_turn(self) -> None:
        if self.config.rate <= 0:
            return
        gap = 1.0 / self.config.rate
        now = time.monotonic()
        if self._last_start is not None and now - self._last_start < gap:
            self._sleep(gap - (now - self._last_start))
        self._last_start = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random (no thundering herd)."""
        cap = min(self.config.max_backoff, self.config.backoff * (2 ** attempt))
        return cap / 2 + cap / 2 * self._jitter()

    def get(self, url: str) -> Response:
        """The body of a 200 response to GET `url`; raises FetchError otherwise."""
        base_site = site_of(self.config.base_url)
        attempt = 0
        while True:
            try:
                return self._get_following(url, base_site)
            except _Retry as r:
                if attempt >= self.config.retries:
                    raise FetchError(url, f"{r.reason} (after {attempt + 1} attempts)",
                                     r.status) from None
                wait = self._backoff(attempt)
                if r.retry_after is not None:
                    if r.retry_after > self.config.max_retry_after:
                        raise FetchError(url, f"{r.reason}; the site asks to wait "
                                         f"{r.retry_after:.0f} s", r.status) from None
                    wait = max(wait, r.retry_after)
                attempt += 1
                self._sleep(wait)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                if attempt >= self.config.retries:
                    raise Unreachable(url, _reason(e)) from None
                attempt += 1
                self._sleep(self._backoff(attempt - 1))
            except httpx.TransportError as e:
                # Read timeouts, a body cut short, a dropped connection: the site
                # answered, so this is worth a retry and then a per-URL failure.
                if attempt >= self.config.retries:
                    raise FetchError(url, f"{_reason(e)} (after {attempt + 1} attempts)"
                                     ) from None
                attempt += 1
                self._sleep(self._backoff(attempt - 1))

    def _get_following(self, url: str, base_site: tuple[str, str]) -> Response:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            self._wait_turn()
            self.requests += 1
            fetched_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            with self._http.stream("GET", current) as resp:
                status = resp.status_code
                if status in (301, 302, 303, 307, 308):
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError(url, f"HTTP {status} without a Location", status)
                    target = urljoin(current, location)
                    if site_of(target) != base_site:
                        where = clean(host_of(target) or target)
                        raise FetchError(url, f"redirected to another site ({where}); "
                                         "not followed", status)
                    current = target
                    continue
                if status in RETRY_STATUSES:
                    raise _Retry(f"HTTP {status}", status,
                                 retry_after(resp.headers.get("retry-after")))
                if status == 404:
                    raise NotFound(url, "HTTP 404 (not found)", status)
                if status != 200:
                    hint = " (check HF_TOKEN)" if status in (401, 403) else ""
                    raise FetchError(url, f"HTTP {status}{hint}", status)
                ctype = resp.headers.get("content-type", "")
                if not _is_json_type(ctype):
                    shown = clean(ctype.split(";")[0], 60)
                    raise FetchError(url, f"not JSON (content type {shown!r})", status)
                body = self._read_capped(resp, url)
                return Response(url, status, ctype, body, fetched_at)
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")

    def _read_capped(self, resp: httpx.Response, url: str) -> bytes:
        limit = self.config.max_bytes
        too_big = f"response larger than {_size(limit)}; refused"
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(url, too_big, resp.status_code)
        deadline = time.monotonic() + self.config.total_timeout
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a small compressed bomb is caught too.
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(url, too_big, resp.status_code)
            if time.monotonic() > deadline:
                raise _Retry(f"response not complete after {self.config.total_timeout:g} s",
                             None, None)
            chunks.append(chunk)
        return b"".join(chunks)


class _Retry(Exception):
    def __init__(self, reason: str, status: int | None, retry_after: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n} bytes"


def clean(text: str, limit: int = 200) -> str:
    """Text from the other side, safe on a terminal: one line, printable, bounded."""
    text = "".join(c if c.isprintable() else "?" for c in " ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(e: Any) -> str:
    """A one-line reason from an httpx error (its text can be empty or multi-line)."""
    text = clean(str(e))
    name = type(e).__name__
    words = {"ConnectTimeout": "connection timed out", "ReadTimeout": "timed out reading",
             "RemoteProtocolError": "response cut short or malformed",
             "WriteTimeout": "timed out sending", "PoolTimeout": "timed out waiting"}
    label = words.get(name, name)
    return f"{label}: {text}" if text and text.lower() not in label else label
