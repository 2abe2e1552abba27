"""What a failed attempt means: whether another try may help, how long the server asks to wait, and the
words a person reads for a transport failure (never the request's headers: they hold the API key).
"""

from __future__ import annotations

import email.utils
import ssl
import time

import httpx

from vaultsync.text import printable

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``: seconds or an HTTP date), capped."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, min(float(raw), MAX_RETRY_AFTER))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER))


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a connection failure, if that is what it was."""
    seen: BaseException | None = exc
    for _ in range(5):  # httpx -> httpcore -> ssl: a short chain
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def transient(exc: Exception) -> bool:
    """Whether trying again may help: not for TLS failures, bad URLs or requests we cannot even send."""
    if isinstance(exc, httpx.TimeoutException | httpx.RemoteProtocolError):
        return True
    if isinstance(exc, httpx.ConnectError):
        return _tls_failure(exc) is None and "SSL" not in str(exc)
    return isinstance(exc, httpx.NetworkError)


def transport_reason(exc: Exception) -> str:
    """What went wrong, in words a user can act on. Never the request's headers (they hold the key)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer within the timeout (--timeout)"
    if isinstance(exc, httpx.ConnectError):
        tls = _tls_failure(exc)
        text = str(exc)
        if isinstance(tls, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            why = getattr(tls, "verify_message", None) or "untrusted certificate"
            return (
                f"TLS certificate verification failed ({printable(str(why))}): use --ca-bundle PATH with the CA "
                "that signed the server's certificate, or --insecure for testing only"
            )
        if tls is not None or "SSL" in text:
            return "TLS handshake failed (does the server speak https on that port? for plain HTTP use http://)"
        return "could not connect (is the connector running and the URL right?)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection or broke the HTTP protocol"
    if isinstance(exc, httpx.NetworkError):
        return "the connection failed while talking to the server"
    if isinstance(exc, httpx.LocalProtocolError):
        # h11's text quotes the offending header value, which may be the API key.
        return "the request could not be sent (an invalid header, such as an API key with control characters)"
    return printable(type(exc).__name__ + (f": {exc}" if str(exc) else ""))
