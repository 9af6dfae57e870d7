"""The console server's edge, over real HTTP on loopback: the token on every API route, no cookie, the
page without data, loopback by default and a warning otherwise, clear refusals for bad requests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.config import AgentsFile
from runtime.fleet.console_fleet import ConsoleFleet
from runtime.fleet.console_server import ConsoleThread, build_app, console_url, is_loopback, loopback_warning
from runtime.fleet.supervisor import Supervisor
from runtime.home import Home
from runtime.operator.token import ensure_token
from tests.support.paths import REPO_ROOT
from wallet import Signer

API_ROUTES = [
    ("GET", "/api/agents"),
    ("POST", "/api/agents/buyer/pause"),
    ("POST", "/api/agents/buyer/resume"),
    ("POST", "/api/agents/buyer/chat"),
    ("GET", "/api/agents/buyer/events"),
    ("GET", "/api/agents/buyer/status"),
    ("GET", "/api/agents/buyer/ledger/verify"),
    ("GET", "/api/agents/buyer/approvals"),
    ("POST", "/api/agents/buyer/approvals/1/approve"),
    ("POST", "/api/agents/buyer/approvals/1/reject"),
    ("GET", "/api/agents/nobody/status"),
    ("GET", "/api"),
]


def fleet_config() -> AgentsFile:
    return AgentsFile.model_validate(
        {
            "agents": [
                {"name": "buyer", "role": "buyer", "policy": "p.yaml"},
                {"name": "seller", "policy": "p.yaml"},
            ]
        }
    )


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, str]]:
    home = Home(tmp_path / ".sova")
    token = ensure_token(home)
    fleet = ConsoleFleet(fleet_config(), tmp_path / "agents.yaml", home, token)
    server = ConsoleThread(build_app(fleet, token), "127.0.0.1", 0)
    url = server.start()
    yield url, token
    server.stop()


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_console_route_without_token_is_401(console: tuple[str, str], method: str, path: str) -> None:
    url, _ = console
    response = httpx.request(method, url.rstrip("/") + path, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "operator token" in response.json()["error"]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_console_route_with_wrong_token_is_401(console: tuple[str, str], method: str, path: str) -> None:
    url, token = console
    for header in (f"Bearer {token[:-1]}x", f"Basic {token}", token, "Bearer", f"Bearer {token} extra"):
        response = httpx.request(method, url.rstrip("/") + path, json={}, headers={"Authorization": header})
        assert response.status_code == 401, header


def test_console_token_is_not_accepted_from_a_cookie_or_the_query(console: tuple[str, str]) -> None:
    url, token = console
    assert httpx.get(url + "api/agents", cookies={"token": token}).status_code == 401
    assert httpx.get(url + f"api/agents?token={token}").status_code == 401


def test_console_sets_no_cookie(console: tuple[str, str]) -> None:
    url, token = console
    auth = {"Authorization": f"Bearer {token}"}
    for response in (
        httpx.get(url),
        httpx.get(url + "static/app.js"),
        httpx.get(url + "api/agents", headers=auth),
        httpx.get(url + "api/agents"),
        httpx.post(url + "api/agents/buyer/chat", json={"text": "status"}, headers=auth),
    ):
        assert "set-cookie" not in response.headers, response.url


def test_console_page_needs_no_token_and_carries_no_data(console: tuple[str, str]) -> None:
    url, token = console
    page = httpx.get(url)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert token not in page.text
    assert "buyer" not in page.text
    assert "seller" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"


def test_console_page_script_never_uses_inner_html() -> None:
    source = (REPO_ROOT / "runtime" / "fleet" / "console" / "app.js").read_text()
    script = "\n".join(line for line in source.splitlines() if not line.strip().startswith("//"))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


def test_console_lists_agents_of_the_fleet_with_their_state(console: tuple[str, str]) -> None:
    url, token = console
    response = httpx.get(url + "api/agents", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    agents = {a["name"]: a for a in response.json()["agents"]}
    assert set(agents) == {"buyer", "seller"}
    assert agents["buyer"]["role"] == "buyer"
    assert agents["buyer"]["state"] == "stopped"  # nothing runs: no agent.json


def test_console_unknown_agent_is_404_with_one_line(console: tuple[str, str]) -> None:
    url, token = console
    response = httpx.get(url + "api/agents/nobody/status", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert response.json()["error"] == "no agent named 'nobody' in this fleet (agents: buyer, seller)"


def test_console_agent_not_serving_is_503_with_what_to_do(console: tuple[str, str]) -> None:
    url, token = console
    response = httpx.post(
        url + "api/agents/buyer/chat", json={"text": "status"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 503
    assert "agent buyer is not serving its operator API" in response.json()["error"]


def test_console_refuses_a_body_that_is_not_a_json_object(console: tuple[str, str]) -> None:
    url, token = console
    auth = {"Authorization": f"Bearer {token}"}
    bad = httpx.post(url + "api/agents/buyer/chat", content=b"{not json", headers=auth)
    assert bad.status_code == 400
    assert bad.json()["error"] == "the request body is not JSON: send a JSON object"
    listed = httpx.post(url + "api/agents/buyer/chat", json=["status"], headers=auth)
    assert listed.json()["error"] == "the request body must be a JSON object"


def test_console_proxy_refuses_paths_outside_the_operator_api(console: tuple[str, str]) -> None:
    url, token = console
    auth = {"Authorization": f"Bearer {token}"}
    response = httpx.get(url + "api/agents/buyer/status%2F..%2F..%2Fsecret", headers=auth)
    assert response.status_code == 404
    assert "not an operator API path" in response.json()["error"]


def test_console_binds_loopback_by_default(tmp_path: Path) -> None:
    assert fleet_config().console.host == "127.0.0.1"
    home = Home(tmp_path / ".sova")
    token = ensure_token(home)
    server = ConsoleThread(
        build_app(ConsoleFleet(fleet_config(), tmp_path, home, token), token), "127.0.0.1", 0
    )
    try:
        assert server.sock.getsockname()[0] == "127.0.0.1"
    finally:
        server.sock.close()


def test_non_loopback_console_host_warns_at_start(tmp_path: Path) -> None:
    config = AgentsFile.model_validate(
        {"console": {"host": "0.0.0.0"}, "agents": [{"name": "buyer", "policy": "p.yaml"}]}
    )
    warnings: list[str] = []
    supervisor = Supervisor(config, tmp_path / "agents.yaml", Home(tmp_path / ".sova"), None, warnings.append)
    url = supervisor._start_console(Signer.from_private_key("0x" + "11" * 32))
    try:
        assert len(warnings) == 1
        assert warnings[0].startswith("console.host is 0.0.0.0: the console is reachable from the network")
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "api/agents").status_code == 401
    finally:
        supervisor.console.stop()  # type: ignore[union-attr]


def test_loopback_hosts_do_not_warn() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert is_loopback(host), host
        assert loopback_warning(host) is None
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.com"):
        assert loopback_warning(host) is not None, host
    assert console_url("::1", 8080) == "http://[::1]:8080/"
    assert console_url("0.0.0.0", 8080) == "http://127.0.0.1:8080/"


def test_console_port_is_kept_across_restarts(tmp_path: Path) -> None:
    config = fleet_config()
    home = Home(tmp_path / ".sova")
    key = Signer.from_private_key("0x" + "22" * 32)
    first = Supervisor(config, tmp_path / "agents.yaml", home, None, print)
    url = first._start_console(key)
    first.console.stop()  # type: ignore[union-attr]
    second = Supervisor(config, tmp_path / "agents.yaml", home, None, print)
    try:
        assert second._start_console(key) == url
    finally:
        second.console.stop()  # type: ignore[union-attr]


def test_console_falls_back_to_a_free_port_when_the_remembered_one_is_taken(tmp_path: Path) -> None:
    home = Home(tmp_path / ".sova")
    home.ensure()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    (home.root / "console.port").write_text(f"{taken}\n")
    supervisor = Supervisor(fleet_config(), tmp_path / "agents.yaml", home, None, print)
    try:
        url = supervisor._start_console(Signer.from_private_key("0x" + "33" * 32))
        assert f":{taken}/" not in url
        assert httpx.get(url).status_code == 200
    finally:
        blocker.close()
        if supervisor.console is not None:
            supervisor.console.stop()


def test_console_chat_keeps_the_lines_that_need_the_operator_key() -> None:
    """Whatever the agent's chat would treat as pause/resume/approve/reject is done by the console
    (on-chain pause, signed decisions); everything else goes to the agent."""
    from runtime.fleet.console_fleet import CHAT_DECIDE, CHAT_PAUSE, CHAT_RESUME

    pause = CHAT_PAUSE.match("Pause suspicious offers")
    assert pause is not None
    assert pause["reason"] == "suspicious offers"
    for line in ("resume", "Resume now please", "unpause"):
        assert CHAT_RESUME.match(line), line
    decide = CHAT_DECIDE.match("approve #3 price is fine")
    assert decide is not None
    assert (decide["verb"], decide["ref"], decide["reason"]) == ("approve", "3", "price is fine")
    for line in ("why did you pause?", "paused?", "status", "resumes", "approvals", "approve"):
        assert not any(p.match(line) for p in (CHAT_PAUSE, CHAT_RESUME, CHAT_DECIDE)), line
