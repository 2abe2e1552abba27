"""Retries in the client, through httpx.MockTransport: what is retried, how long it waits, when it gives up.

Waits are recorded by a fake sleep, so these tests assert the waits a user would sit through
without sitting through them.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from vaultsync.client import ClientOptions, EdcClient, RequestEvent
from vaultsync.errors import AlreadyExistsError, ApiError, NotFoundError, TransportError
from vaultsync.retries import MAX_BACKOFF, MAX_RETRY_AFTER

BASE = "http://edc.test:8181/api/management"
KEY = "KEY-3c1d9a7e-never-print"
VALUE = "s3cret-value-for-retries"
T = TypeVar("T")
Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def ok_get(value: str = VALUE) -> httpx.Response:
    return httpx.Response(200, json={"@id": "a", "@type": "Secret", "value": value, "@context": {}})


class Script:
    """Answers requests with a fixed sequence of steps (the last one repeats); records requests and waits."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.events: list[RequestEvent] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step(request) if callable(step) else step

    @property
    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    def run(self, operation: Callable[[EdcClient], Coroutine[Any, Any, T]], **options: Any) -> T:
        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        async def go() -> T:
            transport = httpx.MockTransport(self)
            opts = ClientOptions(**options)
            async with EdcClient(
                BASE, KEY, "v3", opts, transport=transport, sleep=sleep, on_event=self.events.append
            ) as client:
                return await operation(client)

        return asyncio.run(go())


def get_a(client: EdcClient) -> Coroutine[Any, Any, str | None]:
    return client.get("a")


# -- what is retried ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.PoolTimeout("timed out"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(429),
        httpx.Response(502),
        httpx.Response(503),
        httpx.Response(504),
    ],
    ids=lambda f: type(f).__name__ if isinstance(f, Exception) else f"HTTP {f.status_code}",
)
def test_transient_failures_are_retried_until_an_answer_comes(failure: Step) -> None:
    script = Script(failure, failure, ok_get())
    assert script.run(get_a) == VALUE
    assert script.methods == ["GET", "GET", "GET"]
    assert len(script.sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 405, 409, 422, 500, 501])
def test_a_500_and_other_statuses_are_not_retried(status: int) -> None:
    script = Script(httpx.Response(status), ok_get())
    with pytest.raises(ApiError) as caught:
        script.run(get_a)
    assert caught.value.status == status
    assert len(script.requests) == 1
    assert script.sleeps == []


def test_a_404_on_get_is_an_answer_not_a_failure() -> None:
    script = Script(httpx.Response(404, json=[{"message": "not found", "type": "ObjectNotFound"}]))
    assert script.run(get_a) is None
    assert len(script.requests) == 1


def test_tls_verification_failure_is_not_retried_and_says_what_to_do() -> None:
    script = Script(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:1006)"))
    with pytest.raises(TransportError) as caught:
        script.run(get_a)
    assert len(script.requests) == 1
    message = str(caught.value)
    assert "TLS certificate verification failed" in message
    assert "--ca-bundle" in message
    assert "gave up" not in message


# -- when it gives up -----------------------------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_max_retries_counts_retries_after_the_first_try(retries: int) -> None:
    script = Script(httpx.Response(503))
    with pytest.raises(ApiError) as caught:
        script.run(get_a, max_retries=retries)
    assert len(script.requests) == retries + 1
    assert caught.value.status == 503
    assert f"gave up after {retries + 1} attempt" in str(caught.value)


def test_default_is_four_retries() -> None:
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(TransportError) as caught:
        script.run(get_a)
    assert len(script.requests) == 5
    message = str(caught.value)
    assert "could not connect" in message
    assert "gave up after 5 attempts" in message
    assert f"{BASE}/v3/secrets/a" in message


def test_timeout_message_points_at_the_timeout_option() -> None:
    script = Script(httpx.ReadTimeout("timed out"))
    with pytest.raises(TransportError, match=r"--timeout"):
        script.run(get_a, max_retries=1)
    assert len(script.requests) == 2


def test_timeout_option_reaches_every_request() -> None:
    script = Script(ok_get())
    script.run(get_a, timeout=2.5)
    assert script.requests[0].extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


# -- how long it waits ------------------------------------------------------------------------------


def test_backoff_is_exponential_with_full_jitter() -> None:
    script = Script(httpx.Response(503))
    with pytest.raises(ApiError):
        script.run(get_a, max_retries=4, backoff_base=0.5)
    ceilings = [0.5, 1.0, 2.0, 4.0]
    assert len(script.sleeps) == 4
    for wait, ceiling in zip(script.sleeps, ceilings, strict=True):
        assert 0.0 <= wait <= ceiling


def test_jitter_spreads_parallel_retries_apart() -> None:
    waits = set()
    for _ in range(20):
        script = Script(httpx.Response(502), ok_get())
        script.run(get_a, backoff_base=1.0)
        waits.update(script.sleeps)
    assert len(waits) > 10  # not one fixed delay that makes parallel requests retry in lockstep


def test_backoff_never_exceeds_the_cap() -> None:
    script = Script(httpx.Response(504))
    with pytest.raises(ApiError):
        script.run(get_a, max_retries=12, backoff_base=10.0)
    assert len(script.sleeps) == 12
    assert max(script.sleeps) <= MAX_BACKOFF


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(status: int) -> None:
    script = Script(httpx.Response(status, headers={"Retry-After": "7"}), ok_get())
    assert script.run(get_a) == VALUE
    assert script.sleeps == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    script = Script(httpx.Response(429, headers={"Retry-After": when}), ok_get())
    script.run(get_a)
    (wait,) = script.sleeps
    assert 50.0 <= wait <= 61.0


def test_retry_after_in_the_past_retries_at_once() -> None:
    when = email.utils.formatdate(time.time() - 3600, usegmt=True)
    script = Script(httpx.Response(429, headers={"Retry-After": when}), ok_get())
    script.run(get_a)
    assert script.sleeps == [0.0]


def test_an_absurd_retry_after_is_capped() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "86400"}), ok_get())
    script.run(get_a)
    assert script.sleeps == [MAX_RETRY_AFTER]


def test_a_garbled_retry_after_falls_back_to_backoff() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "soon-ish"}), ok_get())
    script.run(get_a, backoff_base=0.5)
    (wait,) = script.sleeps
    assert 0.0 <= wait <= 0.5


def test_429_that_never_ends_gives_up_with_the_status() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(ApiError) as caught:
        script.run(get_a, max_retries=2)
    assert caught.value.status == 429
    assert script.sleeps == [1.0, 1.0]
    assert "HTTP 429" in str(caught.value)


# -- writes: what a retry means for each method -----------------------------------------------------


def _lost() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError("Server disconnected without sending a response.")


def test_post_whose_answer_was_lost_and_then_meets_409_is_settled_by_a_get() -> None:
    conflict = httpx.Response(409, json=[{"message": "Secret a already exist", "type": "ObjectConflict"}])
    script = Script(_lost(), conflict, ok_get(VALUE))
    script.run(lambda c: c.create("a", VALUE))
    assert script.methods == ["POST", "POST", "GET"]


def test_post_retry_meeting_409_with_another_value_is_a_conflict() -> None:
    conflict = httpx.Response(409, json=[{"message": "Secret a already exist", "type": "ObjectConflict"}])
    script = Script(_lost(), conflict, ok_get("someone else's value"))
    with pytest.raises(AlreadyExistsError):
        script.run(lambda c: c.create("a", VALUE))
    assert script.methods == ["POST", "POST", "GET"]


def test_post_meeting_409_on_the_first_try_is_a_conflict_without_a_get() -> None:
    script = Script(httpx.Response(409, json=[{"message": "Secret a already exist", "type": "ObjectConflict"}]))
    with pytest.raises(AlreadyExistsError):
        script.run(lambda c: c.create("a", VALUE))
    assert script.methods == ["POST"]


def test_post_after_a_503_that_meets_409_is_also_settled() -> None:
    # A 502/503/504 from a proxy does not prove the connector did not store the secret.
    conflict = httpx.Response(409, json=[{"message": "Secret a already exist", "type": "ObjectConflict"}])
    script = Script(httpx.Response(504), conflict, ok_get(VALUE))
    script.run(lambda c: c.create("a", VALUE))
    assert script.methods == ["POST", "POST", "GET"]


def test_delete_retried_after_a_lost_answer_that_meets_404_is_done() -> None:
    gone = httpx.Response(404, json=[{"message": "not found", "type": "ObjectNotFound"}])
    script = Script(_lost(), gone)
    assert script.run(lambda c: c.delete("a")) is False  # done: nothing left to delete
    assert script.methods == ["DELETE", "DELETE"]


def test_put_is_simply_repeated_after_a_lost_answer() -> None:
    script = Script(_lost(), httpx.Response(204))
    script.run(lambda c: c.update("a", VALUE))
    assert script.methods == ["PUT", "PUT"]
    assert script.requests[0].content == script.requests[1].content


def test_put_retry_meeting_404_is_an_error() -> None:
    gone = httpx.Response(404, json=[{"message": "not found", "type": "ObjectNotFound"}])
    script = Script(_lost(), gone)
    with pytest.raises(NotFoundError):
        script.run(lambda c: c.update("a", VALUE))


# -- what -v shows, and what never leaks -------------------------------------------------------------


def test_every_attempt_is_reported_for_verbose_logs() -> None:
    script = Script(httpx.ConnectError("refused"), httpx.Response(503), ok_get())
    script.run(get_a)
    assert [(e.method, e.path, e.status, e.attempt) for e in script.events] == [
        ("GET", "/api/management/v3/secrets/a", None, 1),
        ("GET", "/api/management/v3/secrets/a", 503, 2),
        ("GET", "/api/management/v3/secrets/a", 200, 3),
    ]
    assert script.events[0].error is not None and "could not connect" in script.events[0].error


def test_a_transport_error_quoting_the_api_key_never_repeats_it() -> None:
    # h11 quotes an illegal header value in its message; that header is the key.
    script = Script(httpx.LocalProtocolError(f"Illegal header value b'{KEY}'"))
    with pytest.raises(TransportError) as caught:
        script.run(get_a)
    assert KEY not in str(caught.value)
    assert all(KEY not in (e.error or "") for e in script.events)
    assert len(script.requests) == 1


def test_any_other_transport_error_text_is_scrubbed_of_the_key() -> None:
    script = Script(httpx.ProxyError(f"proxy refused request with X-Api-Key {KEY}"))
    with pytest.raises(TransportError) as caught:
        script.run(get_a)
    assert KEY not in str(caught.value)
    assert "ProxyError" in str(caught.value)


def test_an_error_page_quoting_the_key_or_the_value_never_repeats_them() -> None:
    page = httpx.Response(400, json=[{"message": f"bad key {KEY} for value {VALUE}", "type": "InvalidRequest"}])
    script = Script(page)
    with pytest.raises(ApiError) as caught:
        script.run(lambda c: c.create("a", VALUE))
    assert KEY not in str(caught.value)
    assert VALUE not in str(caught.value)
    assert "HTTP 400" in str(caught.value)
