"""Record what a running EDC connector does with secrets-API-shaped requests.

Stdlib only. Prints one JSON object per check (status, content type, body
cut to 300 characters) so that FINDINGS.md can be re-checked against any
connector::

    set -a; eval "$(python tests/edc/runtime.py up)"; set +a
    python tests/edc/probe.py                    # the /v3 and /v4 secrets checks
    python tests/edc/probe.py --resource assets  # path handling and auth via /v3/assets

``--resource assets`` probes the asset API of the same runtime (same Jetty,
Jersey, authentication and JSON-LD layers), which is how the path layer was
measured before the secrets API was available (tests/edc/FINDINGS.md);
the secrets checks are the default.
Nothing it prints is a secret except values it made up itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

EDC = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"

ALIASES: dict[str, str] = {
    "plain": "vs-plain-1",
    "colon": "vs:colon:1",
    "hash": "vs#hash",
    "percent": "vs%percent",
    "percent-hex": "vs%41hex",
    "question": "vs?question",
    "plus": "vs+plus",
    "space": "vs space",
    "e-acute": "vs-\u00e9",
    "japanese": "vs-\u65e5\u672c",
    "slash": "vs/slash",
    "backslash": "vs\\backslash",
    "semicolon": "vs;semicolon",
    "dot": ".",
    "dotdot": "..",
    "long-1000": "a" * 1000,
    "long-5000": "b" * 5000,
    "long-10000": "c" * 10000,
}


class Client:
    def __init__(self, url: str, api_key: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.base = parts.path.rstrip("/")
        self.api_key = api_key

    def call(self, method: str, path: str, body: Any = None, key: str | None = "default",
             raw: bytes | None = None) -> dict[str, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Accept": "application/json"}
        if key == "default":
            key = self.api_key
        if key is not None:
            headers["X-Api-Key"] = key
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, self.base + path, body=data, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            return {"status": resp.status, "type": resp.getheader("Content-Type", ""), "body": text}
        except (OSError, http.client.HTTPException) as error:
            return {"status": None, "type": "", "body": f"{type(error).__name__}: {error}"}
        finally:
            conn.close()


def _is_edc_not_found(result: dict[str, Any]) -> bool:
    """EDC answers an unknown id with a JSON array of ObjectNotFound errors.

    Any other 404 (Jetty's HTML page, or its JSON object when the request
    accepts JSON) means that no resource serves the path.
    """
    if result["status"] != 404:
        return False
    try:
        body = json.loads(result["body"])
    except ValueError:
        return False
    return isinstance(body, list) and bool(body) and isinstance(body[0], dict) \
        and body[0].get("type") == "ObjectNotFound"


def _record(name: str, result: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = result["body"]
    row = {"check": name, "status": result["status"], "type": result["type"].split(";")[0],
           "body": body if len(body) <= 300 else body[:300] + f"...({len(body)} chars)", **extra}
    print(json.dumps(row, ensure_ascii=False))
    return row


def _enc(alias: str) -> str:
    return urllib.parse.quote(alias, safe="")


def secret_v3(alias: str | None, value: Any = "s3cr3t-v", context: Any = "vocab", **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"@type": "Secret"}
    if context == "vocab":
        body["@context"] = {"@vocab": EDC}
    elif context is not None:
        body["@context"] = context
    if alias is not None:
        body["@id"] = alias
    if value is not Ellipsis:
        body["value"] = value
    body.update(more)
    return body


def secret_v4(
    alias: str | None, value: Any = "s3cr3t-v", type_: str = "Secret", context: Any = "array"
) -> dict[str, Any]:
    body: dict[str, Any] = {"@type": type_, "value": value}
    body["@context"] = [V4_CONTEXT] if context == "array" else context
    if alias is not None:
        body["@id"] = alias
    return body


def asset(alias: str) -> dict[str, Any]:
    return {"@context": {"@vocab": EDC}, "@id": alias, "properties": {"name": "probe"},
            "dataAddress": {"type": "HttpData", "baseUrl": "http://127.0.0.1:9/none"}}


def probe_aliases(c: Client, collection: str, make: Callable[[str], dict[str, Any]]) -> None:
    for name, alias in ALIASES.items():
        post = c.call("POST", collection, make(alias))
        got = c.call("GET", f"{collection}/{_enc(alias)}")
        deleted = c.call("DELETE", f"{collection}/{_enc(alias)}")
        gone = c.call("GET", f"{collection}/{_enc(alias)}")
        ok = (post["status"] == 200 and got["status"] == 200 and deleted["status"] == 204
              and gone["status"] == 404)
        same_id = None
        if got["status"] == 200:
            try:
                same_id = json.loads(got["body"]).get("@id") == alias
            except ValueError:
                same_id = False
        _record(f"alias {name} (len {len(alias)})", post, get=got["status"], get_same_id=same_id,
                delete=deleted["status"], get_after_delete=gone["status"], round_trip=ok,
                get_body=got["body"][:160] if got["status"] != 200 else "",
                delete_body=deleted["body"][:160] if deleted["status"] != 204 else "")


def probe_auth(c: Client, path: str) -> None:
    _record("GET without X-Api-Key", c.call("GET", path, key=None))
    _record("GET with wrong X-Api-Key", c.call("GET", path, key="wrong-key"))


def probe_secrets(c: Client, api: str) -> None:
    col = f"/{api}/secrets"
    mk = secret_v3 if api == "v3" else (lambda a, v="s3cr3t-v", **k: secret_v4(a, v, **k))
    a = f"probe-{api}-{os.getpid()}"
    _record(f"{api} POST ok", c.call("POST", col, mk(a)))
    _record(f"{api} POST duplicate", c.call("POST", col, mk(a)))
    _record(f"{api} GET", c.call("GET", f"{col}/{a}"))
    _record(f"{api} GET unknown", c.call("GET", f"{col}/no-such-{a}"))
    _record(f"{api} PUT", c.call("PUT", col, mk(a, "s3cr3t-new")))
    _record(f"{api} GET after PUT", c.call("GET", f"{col}/{a}"))
    _record(f"{api} PUT unknown", c.call("PUT", col, mk(f"no-such-{a}")))
    _record(f"{api} DELETE", c.call("DELETE", f"{col}/{a}"))
    _record(f"{api} DELETE unknown", c.call("DELETE", f"{col}/{a}"))
    _record(f"{api} POST no @id", c.call("POST", col, mk(None)))
    _record(f"{api} POST blank @id", c.call("POST", col, mk(" ")))
    _record(f"{api} POST empty value", c.call("POST", col, mk(f"{a}-e", "")))
    missing = (secret_v3(f"{a}-m", ...) if api == "v3"
               else {"@context": [V4_CONTEXT], "@type": "Secret", "@id": f"{a}-m"})
    _record(f"{api} POST missing value", c.call("POST", col, missing))
    nocontext = {"@type": "Secret", "@id": f"{a}-nc", "value": "s3cr3t-nc"}
    _record(f"{api} POST no @context", c.call("POST", col, nocontext))
    _record(f"{api} GET after no @context", c.call("GET", f"{col}/{a}-nc"))
    _record(f"{api} POST edc:value prefix",
            c.call("POST", col, {"@context": {"edc": EDC} if api == "v3" else [V4_CONTEXT],
                                 "@type": "Secret", "@id": f"{a}-px", "edc:value": "s3cr3t-px"}))
    _record(f"{api} GET after edc:value", c.call("GET", f"{col}/{a}-px"))
    for label, value in [("number", 42), ("boolean", True), ("object", {"k": "s3cr3t-o"}),
                         ("array", ["s3cr3t-first", "s3cr3t-second"]), ("null", None)]:
        alias = f"{a}-{label}"
        _record(f"{api} POST {label} value", c.call("POST", col, mk(alias, value)))
        _record(f"{api} GET after {label} value", c.call("GET", f"{col}/{alias}"))
    _record(f"{api} POST not JSON", c.call("POST", col, raw=b"{not json"))
    if api != "v3":
        _record(f"{api} POST @type edc:Secret", c.call("POST", col, secret_v4(f"{a}-t", type_="edc:Secret")))
        _record(f"{api} POST @context object",
                c.call("POST", col, secret_v4(f"{a}-c", context={"@vocab": EDC})))
        _record(f"{api} POST @context string", c.call("POST", col, secret_v4(f"{a}-s", context=V4_CONTEXT)))
    probe_auth(c, f"{col}/{a}")
    probe_aliases(c, col, lambda alias: mk(alias))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("EDC_MANAGEMENT_URL"))
    parser.add_argument("--api-key", default=os.environ.get("EDC_API_KEY"))
    parser.add_argument("--resource", choices=("secrets", "assets"), default="secrets")
    parser.add_argument("--api", action="append", help="secrets API versions (default: v3, v4, v4beta if served)")
    args = parser.parse_args(argv)
    if not args.url or not args.api_key:
        parser.error("set EDC_MANAGEMENT_URL and EDC_API_KEY (see runtime.py up)")
    c = Client(args.url, args.api_key)
    if args.resource == "assets":
        probe_auth(c, "/v3/assets/probe")
        _record("assets GET unknown", c.call("GET", "/v3/assets/no-such-asset"))
        _record("assets POST", c.call("POST", "/v3/assets", asset("probe-dup")))
        _record("assets POST duplicate", c.call("POST", "/v3/assets", asset("probe-dup")))
        _record("assets PUT unknown", c.call("PUT", "/v3/assets", asset("no-such-asset")))
        _record("assets DELETE unknown", c.call("DELETE", "/v3/assets/no-such-asset"))
        _record("assets POST blank @id", c.call("POST", "/v3/assets", asset(" ")))
        _record("assets POST not JSON", c.call("POST", "/v3/assets", raw=b"{not json"))
        c.call("DELETE", "/v3/assets/probe-dup")
        probe_aliases(c, "/v3/assets", asset)
        return 0
    apis = args.api or [v for v in ("v3", "v4", "v4beta")
                        if _is_edc_not_found(c.call("GET", f"/{v}/secrets/probe-served"))]
    if not apis:
        print("this connector serves no secrets API", file=sys.stderr)
        return 1
    for api in apis:
        probe_secrets(c, api)
    return 0


if __name__ == "__main__":
    sys.exit(main())
