"""A small HTTP client for the papers site's API (and, for full texts, the site's
Markdown and arXiv's HTML: `HttpConfig.answer`), around httpx.

One `Client` per run and host: connections are reused, requests are spaced to a polite
rate, transient failures (connection errors, timeouts, 429, 5xx) are retried with
exponential backoff and jitter, honouring Retry-After; redirects are followed
only on the site itself, and bodies are read as a stream with a size cap.

Time is bounded twice: one attempt (connecting, the headers and the whole body, every
redirect it follows) by `timeout`, however slowly the site trickles (deadline.py); one
URL, its retries and the waits between them included, by `timeout * (retries + 1)`:
a wait that would not fit ends the tries.

No message quotes an httpx error's text (it can quote the request, and so the
Authorization header): reasons are made from the error's type and the OS's words
(`_reason`), and every message passes through `Client._fail`, which also takes out
the token should the site echo it back in a header.

httpx is imported here only, and this module only by the commands that fetch (late,
in their verbs): other commands never pay for it at start-up.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from papers_cli import __version__
from papers_cli.core.errors import UserError
from papers_cli.core.words import plural
from papers_cli.engine.fetch.deadline import Watchdog
from papers_cli.engine.fetch.plan import JSON, Answer
from papers_cli.engine.fetch.secret import TOKEN_VAR, redact, token_problem

USER_AGENT = f"papers/{__version__} (papers-cli; Daily Papers corpus tool)"
MAX_BYTES = 50 << 20
MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# httpx logs each URL at INFO, httpcore each response's headers at DEBUG: a site that
# echoes the token in a header or a redirect would put it in a log.
HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                "httpcore.proxy", "httpcore.socks")



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
    timeout: float = 30.0  # one attempt in all: connect, headers, the whole body
    retries: int = 4  # extra attempts after the first
    backoff: float = 1.0  # first retry waits about this long, then doubles
    max_backoff: float = 60.0
    max_bytes: int = MAX_BYTES
    token: str | None = field(default=None, repr=False)  # never shown
    answer: Answer = JSON

    @property
    def budget(self) -> float:
        """Seconds one URL may take in all: every attempt and every wait between them."""
        return self.timeout * (self.retries + 1)


@dataclass
class Response:
    url: str  # the URL asked for (not a redirect target): it names the page
    status: int
    content_type: str
    body: bytes
    fetched_at: str


def site_of(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) of a URL: what 'the same site' means for redirects.
    ValueError for a URL that cannot be taken apart (a bad port, a broken IPv6 host)."""
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower() + (
        f":{parts.port}" if parts.port else "")


def host_of(url: str) -> str:
    """The host (and port, if any) of a URL, as messages name it."""
    try:
        return site_of(url)[1]
    except ValueError:
        return "an invalid URL"


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None
    when absent or unreadable (the usual backoff applies), 0 for a date in the past."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        wait = float(value)
        return wait if math.isfinite(wait) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


class _Redacting(logging.Filter):
    """Takes the token out of the HTTP libraries' log records."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.token in text:
            record.msg, record.args = redact(text, self.token), ()
        return True


class _Retry(Exception):
    """An attempt that failed in a way worth another one."""

    def __init__(self, reason: str, status: int | None = None,
                 retry_after: float | None = None, final: type[FetchError] = FetchError
                 ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.final = final  # what it becomes when the tries run out


class Client:
    """GET with retries, rate limit, deadlines, same-site redirects and a size cap."""

    def __init__(self, config: HttpConfig, *, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.config = config
        self._sleep = sleep
        self._jitter = jitter
        self._last_start: float | None = None
        self._watch = Watchdog()
        self.requests = 0  # sent, retries included
        headers = {"User-Agent": USER_AGENT, "Accept": config.answer.accept}
        self._log_filter: _Redacting | None = None
        if config.token:
            if token_problem(config.token):  # never let httpx see it: its error quotes it
                raise UserError(f"{TOKEN_VAR} cannot be sent as a header: fix or unset it")
            headers["Authorization"] = f"Bearer {config.token}"
            self._log_filter = _Redacting(config.token)
            for name in HTTP_LOGGERS:
                logging.getLogger(name).addFilter(self._log_filter)
        self._http = httpx.Client(
            headers=headers,
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
        if self._log_filter is not None:
            for name in HTTP_LOGGERS:
                logging.getLogger(name).removeFilter(self._log_filter)

    def _fail(self, url: str, reason: str, status: int | None = None,
              kind: type[FetchError] = FetchError) -> FetchError:
        """The one way a failure becomes a message: one line, printable, no token."""
        return kind(url, clean(redact(reason, self.config.token)), status)

    def _turn_left(self) -> float:
        if self.config.rate <= 0 or self._last_start is None:
            return 0.0
        return max(0.0, 1.0 / self.config.rate - (time.monotonic() - self._last_start))

    def _wait_turn(self) -> None:
        wait = self._turn_left()
        if wait > 0:
            self._sleep(wait)
        self._last_start = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random (no thundering herd)."""
        cap = min(self.config.max_backoff, self.config.backoff * (2 ** attempt))
        return cap / 2 + cap / 2 * self._jitter()

    def get(self, url: str) -> Response:
        """The body of a 200 response to GET `url`; raises FetchError otherwise."""
        cfg = self.config
        base_site = site_of(cfg.base_url)
        self._wait_turn()
        # The clock starts after the polite pause: a slow --rate is not the site's fault.
        end = time.monotonic() + cfg.budget
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(url, base_site, min(time.monotonic() + cfg.timeout, end))
            except _Retry as r:
                tried = f"after {plural(attempt, 'attempt')}"
                if attempt > cfg.retries:
                    raise self._fail(url, f"{r.reason} ({tried})", r.status, r.final) from None
                wait = max(self._backoff(attempt - 1), r.retry_after or 0.0, self._turn_left())
                if time.monotonic() + wait >= end:
                    limit = f"this request's {cfg.budget:g} s"
                    why = (f"{r.reason}; the site asks to wait {r.retry_after:.0f} s, more "
                           f"than is left of {limit}"
                           if r.retry_after is not None and r.retry_after >= wait else
                           f"{r.reason} ({tried}; no time left of {limit})")
                    raise self._fail(url, why, r.status, r.final) from None
                self._sleep(wait)
                self._wait_turn()

    def _attempt(self, url: str, base_site: tuple[str, str], deadline: float) -> Response:
        self._watch.arm(deadline)
        try:
            return self._get_following(url, base_site, deadline)
        except (FetchError, _Retry):
            raise
        except Exception as e:
            if self._watch.fired or time.monotonic() >= deadline:
                raise _Retry(self._timed_out()) from None
            if isinstance(e, httpx.RemoteProtocolError) and "location header" in str(e).lower():
                # httpx reads the Location of every redirect; its text is not shown.
                raise self._fail(url, "redirected to an invalid URL; not followed") from None
            if isinstance(e, httpx.TimeoutException | httpx.NetworkError |
                          httpx.RemoteProtocolError | httpx.ProxyError):
                # The site answered badly or not at all, this time: worth a retry.
                connect = isinstance(e, httpx.ConnectError | httpx.ConnectTimeout)
                raise _Retry(_reason(e, self.config.timeout),
                             final=Unreachable if connect else FetchError) from None
            if isinstance(e, httpx.HTTPError | httpx.InvalidURL | httpx.StreamError):
                raise self._fail(url, _reason(e, self.config.timeout)) from None
            raise
        finally:
            self._watch.disarm()

    def _timed_out(self) -> str:
        return f"timed out: no complete answer within {self.config.timeout:g} s"

    def _get_following(self, url: str, base_site: tuple[str, str],
                       deadline: float) -> Response:
        current = url
        # A redirect is followed at once, without the rate's pause: the site asked for
        # it, and its time counts against the same attempt.
        for _ in range(MAX_REDIRECTS + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Retry(self._timed_out())
            self.requests += 1
            fetched_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            with self._http.stream("GET", current, timeout=left,
                                   extensions={"trace": self._watch.trace}) as resp:
                status = resp.status_code
                if status in (301, 302, 303, 307, 308):
                    current = self._redirect(url, current, resp, base_site)
                    continue
                if status in RETRY_STATUSES:
                    raise _Retry(f"HTTP {status}", status,
                                 retry_after(resp.headers.get("retry-after")))
                if status == 404:
                    raise self._fail(url, "HTTP 404 (not found)", status, NotFound)
                if status != 200:
                    hint = f" (check {TOKEN_VAR})" if status in (401, 403) else ""
                    raise self._fail(url, f"HTTP {status}{hint}", status)
                ctype = resp.headers.get("content-type", "")
                if not self.config.answer.takes(ctype):
                    shown = clean(ctype.split(";")[0], 60)
                    raise self._fail(url, f"not {self.config.answer.name} (content type "
                                     f"{shown!r})", status)
                body = self._read_capped(resp, url, deadline)
                return Response(url, status, ctype, body, fetched_at)
        raise self._fail(url, f"more than {MAX_REDIRECTS} redirects")

    def _redirect(self, url: str, current: str, resp: httpx.Response,
                  base_site: tuple[str, str]) -> str:
        """The next URL of a redirect on the same site; FetchError for any other."""
        status = resp.status_code
        location = resp.headers.get("location")
        if not location:
            raise self._fail(url, f"HTTP {status} without a Location", status)
        try:
            target = urljoin(current, location.strip())
            site = site_of(target)
        except ValueError:
            raise self._fail(url, "redirected to an invalid URL; not followed",
                             status) from None
        if site != base_site:
            raise self._fail(url, f"redirected to another site ({host_of(target)}); "
                             "not followed", status)
        return target

    def _read_capped(self, resp: httpx.Response, url: str, deadline: float) -> bytes:
        limit = self.config.max_bytes
        too_big = f"response larger than {_size(limit)}; refused"
        declared = resp.headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise self._fail(url, too_big, resp.status_code)
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a small compressed bomb is caught too.
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise self._fail(url, too_big, resp.status_code)
            if time.monotonic() > deadline:
                raise _Retry(self._timed_out())
            chunks.append(chunk)
        return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n} bytes"


def clean(text: str, limit: int = 200) -> str:
    """Text from the other side, safe on a terminal: one line, printable, bounded."""
    text = "".join(c if c.isprintable() else "?" for c in " ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


_LABELS: tuple[tuple[type[Exception], str], ...] = (
    (httpx.ConnectTimeout, "connection timed out"),
    (httpx.TimeoutException, "timed out"),
    (httpx.ConnectError, "connection failed"),
    (httpx.RemoteProtocolError, "response cut short or malformed"),
    (httpx.ReadError, "connection lost while reading"),
    (httpx.WriteError, "connection lost while sending"),
    (httpx.ProxyError, "the proxy refused or failed"),
    (httpx.DecodingError, "body not readable as its Content-Encoding says"),
    (httpx.LocalProtocolError, "request could not be sent (a header httpx refused)"),
    (httpx.UnsupportedProtocol, "unsupported URL scheme"),
    (httpx.InvalidURL, "invalid URL"),
)


def _reason(e: Exception, timeout: float) -> str:
    """Why a request failed, from the error's type and the OS's own words only: an httpx
    error's text can quote the request, and so the Authorization header."""
    label = next((text for cls, text in _LABELS if isinstance(e, cls)), "request failed")
    if label == "timed out":
        return f"timed out: no complete answer within {timeout:g} s"
    cause: BaseException | None = e
    for _ in range(6):  # httpx error -> httpcore error -> OSError
        if cause is None:
            break
        cause = cause.__cause__ or cause.__context__
        if isinstance(cause, OSError) and isinstance(cause.strerror, str):
            return f"{label}: {clean(cause.strerror, 80)}"
    return label
