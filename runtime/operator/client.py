"""An HTTP client for the operator APIs: an agent's `/v1/...` and the console server's `/api/...`.

The console server uses it to reach each agent's operator API, and `sova console` uses it to reach the
console server. The token always travels as `Authorization: Bearer …` (never a cookie, never in a URL).
Every failure becomes one OperatorApiError line that names the server and says what to do; the JSON
`{"error": "..."}` body of a refusal is passed on as it is, with its HTTP status.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from runtime.errors import SovaError

if TYPE_CHECKING:
    from runtime.home import Home

DEFAULT_TIMEOUT = 10.0
SLOW_TIMEOUT = 150.0
"""For a chat line, which may be a purchase (the chat's buy waits up to 120 s for the deal)."""


class OperatorApiError(SovaError):
    """An operator API refused a request, answered nonsense, or could not be reached."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class OperatorClient:
    """Talks to one operator API (`base_url` like `http://127.0.0.1:8123`) with the fleet token."""

    def __init__(
        self, base_url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT, label: str = ""
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.label = label or self.base_url
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            # Loopback only: a proxy from the environment must not see the token.
            trust_env=False,
            follow_redirects=False,
        )

    def __repr__(self) -> str:  # no token in reprs (logs, tracebacks)
        return f"OperatorClient({self.label})"

    async def close(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> OperatorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-request override of the client's timeout
    ) -> tuple[int, Any]:
        """The status and decoded JSON body of `method path`. A 4xx/5xx answer is returned, not
        raised (a proxy passes it on); only an unreachable server or a non-JSON body raise."""
        try:
            response = await self._client.request(
                method,
                path,
                json=json_body,
                params=dict(params or {}),
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException:
            raise OperatorApiError(f"{self.label} did not answer {method} {path} in time", 504) from None
        except httpx.HTTPError as exc:
            raise OperatorApiError(
                f"cannot reach {self.label} ({type(exc).__name__}): is it running? see `sova status`", 502
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise OperatorApiError(
                f"{self.label} answered {method} {path} with HTTP {response.status_code} and no JSON", 502
            ) from None
        return response.status_code, body

    async def get(self, path: str, **params: str) -> Any:
        """GET `path`; the JSON body, or OperatorApiError with the server's own error line."""
        return _ok(self.label, *(await self.request("GET", path, params=params)))

    async def post(self, path: str, body: Any = None) -> Any:
        """POST `path` with a JSON body; the JSON answer, or OperatorApiError with the server's line.
        The chat may buy (`buy SERVICE {json}` waits for the deal): it gets SLOW_TIMEOUT."""
        timeout = SLOW_TIMEOUT if path.endswith("/chat") else None
        body = body if body is not None else {}
        return _ok(self.label, *(await self.request("POST", path, json_body=body, timeout=timeout)))

    async def open_stream(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        """Start a streaming GET (SSE) and return once its headers are in: iterate `aiter_raw()`,
        then `aclose()` it. No read timeout (the server sends keep-alives); a refusal raises."""
        request = self._client.build_request(
            "GET", path, params=dict(params or {}), timeout=httpx.Timeout(DEFAULT_TIMEOUT, read=None)
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise OperatorApiError(
                f"cannot reach {self.label} ({type(exc).__name__}): is it running? see `sova status`", 502
            ) from None
        if response.status_code != 200:
            body = (await response.aread()).decode("utf-8", "replace")
            await response.aclose()
            raise OperatorApiError(_error_line(self.label, response.status_code, body), response.status_code)
        return response


def _ok(label: str, status: int, body: Any) -> Any:
    if status >= 400:
        raise OperatorApiError(_error_line(label, status, body), status)
    return body


def _error_line(label: str, status: int, body: Any) -> str:
    if isinstance(body, str):
        with contextlib.suppress(ValueError):
            body = json.loads(body)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    if status == 401:
        return f"{label} refused the operator token (HTTP 401): use the token in .sova/operator.token"
    return f"{label} answered HTTP {status}"


def agent_api(home: Home, name: str) -> tuple[str, str] | None:
    """(operator API URL, fleet token) of agent `name` while it runs under `sova up`, else None: the URL
    from its ready file (`agent.json`, loopback only), the token from the fleet's home."""
    from runtime.operator.token import read_token
    from runtime.pidfile import pid_alive, read_ready

    ready = read_ready(home, name) or {}
    url, pid, token = ready.get("operator_url"), ready.get("pid"), read_token(home)
    if not isinstance(url, str) or not url.startswith("http://127.0.0.1:") or not token:
        return None
    if isinstance(pid, int) and not pid_alive(pid):
        return None
    return url, token
