"""One assembly of a facilitator's parts: its executor (only `settle_x402`, under its own policy), its
ledger and budget files, and the Facilitator over them. `sova facilitator` and the tests build it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.payments.facilitator import Facilitator

if TYPE_CHECKING:
    from identity.keys import IdentityKey
    from policies import Budget, TokenInfo
    from runtime.executor.executor import Executor
    from runtime.ledger.ledger import Ledger
    from wallet.chain import ChainClient
    from wallet.contracts import ContractBinding
    from wallet.signer import SignerLike

__all__ = ["PRESET", "FacilitatorParts", "open_facilitator"]

PRESET = Path(__file__).resolve().parents[2] / "policies" / "presets" / "facilitator.yaml"
"""The facilitator's default policy: settle_x402 only, TestUSD.transferWithAuthorization only."""


@dataclass
class FacilitatorParts:
    """A running facilitator's parts; `close()` closes its files."""

    facilitator: Facilitator
    executor: Executor
    ledger: Ledger
    budget: Budget

    def close(self) -> None:
        self.ledger.close()
        self.budget.close()


def open_facilitator(
    folder: Path,
    *,
    signer: SignerLike,
    key: IdentityKey,
    chain: ChainClient,
    contracts: Mapping[str, ContractBinding],
    tokens: tuple[TokenInfo, ...],
    policy_path: Path | None = None,
) -> FacilitatorParts:
    """The facilitator whose files live in `folder` (ledger, budget), paying gas from `signer`."""
    from policies import Budget, TokenRegistry, load_policy
    from runtime.executor.executor import Executor
    from runtime.ledger.ledger import Ledger
    from skills import Catalog, SkillContext
    from skills.settle_x402 import SettleX402

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    policy = load_policy(policy_path or PRESET, tokens=tokens, skills=["settle_x402"])
    context = SkillContext(
        agent_did=key.did,
        agent_address=signer.address,
        chain_id=chain.chain_id,
        tokens=TokenRegistry(tokens),
        agent_name="facilitator",
        contracts=dict(contracts),
        chain=chain,
    )
    ledger = Ledger.open(folder / "ledger.sqlite", key, signer.address)
    budget = Budget(folder / "budget.sqlite")
    executor = Executor(
        catalog=Catalog([SettleX402()]),
        context=context,
        policy=policy,
        budget=budget,
        ledger=ledger,
        signer=signer,
        identity_key=key,
    )
    return FacilitatorParts(Facilitator(executor, ledger), executor, ledger, budget)
