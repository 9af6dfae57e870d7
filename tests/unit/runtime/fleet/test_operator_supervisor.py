"""`sova up` pins each agent's operator port like its A2A port, so a restarted agent is found again."""

from __future__ import annotations

import socket
from pathlib import Path

from runtime.fleet.ports import pinned_operator_port
from runtime.home import Home


def test_the_operator_port_is_chosen_once_and_kept(tmp_path: Path) -> None:
    home = Home(tmp_path / ".sova")
    port = pinned_operator_port(home, "buyer")
    assert (home.agent_dir("buyer") / "operator-port").read_text().strip() == str(port)
    assert pinned_operator_port(home, "buyer") == port
    with socket.socket() as sock:  # a free port when chosen
        sock.bind(("127.0.0.1", port))


def test_a_damaged_operator_port_file_is_replaced(tmp_path: Path) -> None:
    home = Home(tmp_path)
    path = home.agent_dir("seller") / "operator-port"
    path.parent.mkdir(parents=True)
    path.write_text("not a port\n")
    port = pinned_operator_port(home, "seller")
    assert 0 < port < 65536
    assert path.read_text().strip() == str(port)
