"""Where Sova keeps its state: `.sova/` beside agents.yaml, or `$SOVA_HOME`, or `home:` in the file.

<home>/keys/<name>.json               V3 keystores (0600)
<home>/chain/state.json               anvil state, dumped every second and on clean stop
<home>/chain/node.json                url and pid of the running local node
<home>/chain/health.json              the supervisor's block checkpoint and the chain's last rollback
<home>/witness/<name>.json            the supervisor's witness of each agent's ledger head
<home>/agents/<name>/peer-heads.json  the ledger heads the agent's peers sent it, by peer DID
<home>/deployments/<chain_id>.json    contract addresses
<home>/outbox.sqlite                  signed transactions not yet known to be mined
<home>/dev-passphrase                 generated passphrase, local chain only (0600)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runtime.config import AgentsFile


@dataclass(frozen=True)
class Home:
    """The state folder and the paths inside it."""

    root: Path

    @classmethod
    def for_config(cls, config_path: Path, config: AgentsFile | None = None) -> Home:
        env = os.environ.get("SOVA_HOME")
        if env:
            return cls(Path(env).expanduser().resolve())
        if config is not None and config.home:
            return cls((config_path.parent / config.home).resolve())
        return cls((config_path.parent / ".sova").resolve())

    def ensure(self) -> Home:
        """Create the folder, private to the user (it holds keystores and tokens)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        return self

    def keys_dir(self, config: AgentsFile | None = None, config_dir: Path | None = None) -> Path:
        if config is not None and config.keys.dir:
            return (config_dir or Path.cwd()) / config.keys.dir
        return self.root / "keys"

    @property
    def chain_dir(self) -> Path:
        return self.root / "chain"

    @property
    def chain_state(self) -> Path:
        return self.chain_dir / "state.json"

    @property
    def node_file(self) -> Path:
        return self.chain_dir / "node.json"

    def deployments(self, chain_id: int) -> Path:
        return self.root / "deployments" / f"{chain_id}.json"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox.sqlite"

    def agent_dir(self, name: str) -> Path:
        """Per-agent state: ledger, credential store, replay store, operator token."""
        return self.root / "agents" / name

    def ledger(self, name: str) -> Path:
        return self.agent_dir(name) / "ledger.sqlite"

    def peer_heads(self, name: str) -> Path:
        """The ledger heads agent `name` was sent by its peers (runtime/ledger/peer_heads.py)."""
        return self.agent_dir(name) / "peer-heads.json"

    def deals(self, name: str) -> Path:
        return self.agent_dir(name) / "deals.sqlite"

    def witness(self, name: str) -> Path:
        """The supervisor's copy of the agent's ledger head: outside the agent's own folder."""
        return self.root / "witness" / f"{name}.json"

    def ready_file(self, name: str) -> Path:
        """Written by a serving agent (url, pid, DID, address); removed on a clean stop."""
        return self.agent_dir(name) / "agent.json"

    @property
    def supervisor_file(self) -> Path:
        return self.root / "supervisor.json"

    def credentials(self, name: str) -> Path:
        return self.agent_dir(name) / "credentials.sqlite"

    @property
    def dev_passphrase(self) -> Path:
        return self.root / "dev-passphrase"
