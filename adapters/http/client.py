"""The one HTTP client every adapter uses: timeouts, the retry table, Decimal JSON, counters.

Retries run through tenacity; the wait honours `Retry-After` (capped) and otherwise backs
off exponentially with jitter. Sleeping goes through `adapters.http.sleep`, so tests patch
one name and stay fast. A POST is retried only when it carries an idempotency key: without
one a retry could create the same thing twice.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential,
    wait_random,
)

from adapters.http.decode import INVALID_UTF8, decode_body
from adapters.http.errors import (
    AuthError,
    ConnectorHttpError,
    RecordNotFound,
    RetriesExhausted,
    RetryableHttpError,
    UpstreamError,
)
from adapters.http.limits import RateLimiter
from adapters.http.observed import OBSERVED, first_contact_failed
from adapters.http.policy import RETRYABLE_TRANSPORT_ERRORS, Action, action_for_status, retry_after_seconds
from connector.config import HttpSettings

T = TypeVar("T")

# What a database's JSON column may refuse once the body is parsed: a lone surrogate or a NUL
# (both can only arrive as \u escapes in decoded text) and keys over 200 characters.
_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_LONG_KEY = re.compile(r'"[^"]{201,}":')


def json_text_is_clean(text: str, max_field_chars: int | None = None) -> bool:
    """True when nothing parsed from `text` can need cleaning before it is stored.

    Two regex scans of the body cost a fraction of re-serialising each record of the page to
    look for the same things, which is what the writer has to do otherwise. False positives
    (a valid surrogate pair, an escaped backslash before `u0000`) only cost that slow check.
    Also unclean: undecodable bytes (`decode.INVALID_UTF8`), and with `max_field_chars` a body
    that may hold a longer string (a run that long without a quote, or any escaped quote).
    """
    if INVALID_UTF8 in text:
        return False
    if max_field_chars is not None and len(text) > max_field_chars and (
        '\\"' in text or has_quote_free_run(text, max_field_chars + 1)
    ):
        return False
    return _UNSAFE_ESCAPE.search(text) is None and _LONG_KEY.search(text) is None


def has_quote_free_run(text: str, length: int) -> bool:
    """True when `text` holds `length` (at least 1) or more characters in a row none of which is `"`.

    Why not the regex `[^"]{length,}`: it tries every position and scans the run from there, so a
    page body cost it as much as parsing it (37 ms for a 460 kB page at `length` 65,537). Any run
    that long contains a whole block [k·s, (k+1)·s) of `s = ⌈length / 2⌉` characters, so only a
    block with no quote at all can start one: one `find` per block, then the run around that block
    is measured exactly.
    """
    n = len(text)
    size = max(1, (length + 1) // 2)
    start = 0
    while start + size <= n:
        if text.find('"', start, start + size) != -1:
            start += size
            continue
        before = text.rfind('"', 0, start)  # -1: the run starts at the beginning
        after = text.find('"', start + size)
        if after == -1:
            after = n
        if after - before - 1 >= length:
            return True
        start = (after // size + 1) * size
    return False


_RETRYABLE: tuple[type[Exception], ...] = (RetryableHttpError, *RETRYABLE_TRANSPORT_ERRORS)


def _parse(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _sleep(seconds: float) -> None:
    # Looked up at call time so `adapters.http.sleep` stays the single patch point.
    import adapters.http

    adapters.http.sleep(seconds)


@dataclass
class RequestCounter:
    """Requests and retries of one stream (or one client); safe to share between threads."""

    requests: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, retries: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries


def _short_body(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].replace("\n", " ")
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:200]
        if body.get("message"):
            return str(body["message"])[:200]
    return str(body)[:200]


class HttpClient:
    """JSON over HTTP for one upstream API (`api_name` appears in every error message)."""

    def __init__(
        self,
        *,
        api_name: str,
        base_url: str,
        settings: HttpSettings,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        client: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.api_name = api_name
        # waits before every attempt (retries included) until the API's rate allows it
        self.limiter = limiter
        self.base_url = base_url.rstrip("/")
        self._base_path = httpx.URL(self.base_url).path.rstrip("/")
        self.settings = settings
        self._headers = dict(headers or {})
        self._auth = auth
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds),
            follow_redirects=False,
        )
        self.counter = RequestCounter()
        # called right before each non-GET request is sent, after the rate limiter's wait
        self.before_write: Callable[[], None] | None = None
        # exponential from `backoff_initial_seconds`, plus up to that much jitter
        self._backoff = wait_exponential(
            multiplier=settings.backoff_initial_seconds, max=settings.backoff_max_seconds
        ) + wait_random(0, settings.backoff_initial_seconds)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _wait(self, state: RetryCallState) -> float:  # not money: seconds
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetryableHttpError) and exc.retry_after is not None:
            return exc.retry_after
        return min(float(self._backoff(state)), self.settings.backoff_max_seconds)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        counter: RequestCounter | None = None,
    ) -> Any:
        """One call, retried per the table; returns the body parsed with Decimal for floats."""
        return self._call(
            method, path, params=params, json_body=json_body, form=form, idempotency_key=idempotency_key,
            counter=counter, parse=_parse,
        )

    def get_json_checked(
        self, path: str, *, params: dict[str, Any] | None = None, counter: RequestCounter | None = None
    ) -> tuple[Any, bool]:
        """A GET like `request_json`, plus whether the body is clean (see `json_text_is_clean`)."""
        cap = self.settings.max_field_chars

        def parse_checked(text: str) -> tuple[Any, bool]:
            return json.loads(text, parse_float=Decimal), json_text_is_clean(text, cap)

        return self._call("GET", path, params=params, counter=counter, parse=parse_checked)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        counter: RequestCounter | None = None,
        parse: Callable[[str], T],
    ) -> T:
        method = method.upper()
        retry_allowed = method in ("GET", "HEAD") or idempotency_key is not None
        attempts = self.settings.max_attempts if retry_allowed else 1
        headers = dict(self._headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        counters = [self.counter] + ([counter] if counter is not None else [])

        def count_retry(_state: RetryCallState) -> None:
            for c in counters:
                c.add(retries=1)
            OBSERVED.retry(self.api_name)

        def attempt() -> T:
            if self.limiter is not None:
                self.limiter.acquire(method, httpx.URL(self._url(path)).path.removeprefix(self._base_path))
            if self.before_write is not None and method not in ("GET", "HEAD"):
                self.before_write()  # last word before a write leaves (the run's fence); raises to stop it
            for c in counters:
                c.add(requests=1)
            response = self._client.request(
                method,
                self._url(path),
                params=params,
                json=json_body,
                data=form,
                headers=headers,
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
            )
            OBSERVED.response(self.api_name, response)
            return self._interpret(method, path, response, parse)

        if attempts == 1:
            # What tenacity does with one attempt, without building a `Retrying` per request (a POST
            # without an idempotency key, i.e. every reward: its CPU showed in the push's profile):
            # a retryable failure gives up at once, anything else is raised as it is.
            try:
                return attempt()
            except _RETRYABLE as exc:
                raise self._gave_up(method, path, 1, exc) from None
        retrying = Retrying(
            stop=stop_any(stop_after_attempt(attempts), first_contact_failed),
            wait=self._wait,
            retry=retry_if_exception_type(_RETRYABLE),
            sleep=_sleep,
            before_sleep=count_retry,
            reraise=False,
        )
        try:
            return retrying(attempt)
        except RetryError as exc:
            raise self._gave_up(method, path, exc.last_attempt.attempt_number, exc.last_attempt.exception()) from None

    def _gave_up(self, method: str, path: str, attempts: int, last: BaseException | None) -> RetriesExhausted:
        why = f"{type(last).__name__}: {last}" if last is not None else "unknown error"
        if isinstance(last, httpx.TransportError):  # say where, so a wrong base_url is obvious
            why += f" (at {httpx.URL(self._url(path)).netloc.decode()})"
        return RetriesExhausted(
            f"{self.api_name} {method} {path}: gave up after {attempts} attempt(s): {why}",
            response=last.response if isinstance(last, ConnectorHttpError) else None,
        )

    def _interpret(self, method: str, path: str, response: httpx.Response, parse: Callable[[str], T]) -> T:
        action = action_for_status(response.status_code)
        status = response.status_code
        if action is Action.FAIL_AUTH:
            raise AuthError(f"{self.api_name} rejected the API keys ({status})", response=response)
        if action is Action.RETRY:
            wait = retry_after_seconds(response, self.settings.retry_after_max_seconds)
            raise RetryableHttpError(f"HTTP {status}", response=response, retry_after=wait)
        if action is Action.NOT_FOUND:
            raise RecordNotFound(f"{self.api_name} {method} {path}: 404 {_short_body(response)}", response=response)
        if action is Action.FAIL:
            raise UpstreamError(
                f"{self.api_name} {method} {path} failed: {status} {_short_body(response)}", response=response
            )
        try:
            return parse(decode_body(response.content))  # strict UTF-8: see adapters.http.decode
        except ValueError:
            # A truncated or garbled body: the server or the connection broke mid-response.
            # The answer travels with it: a body unusable on every attempt is told apart from an outage.
            raise RetryableHttpError("truncated or invalid JSON body", response=response) from None
