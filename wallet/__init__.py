"""Keys, signing and the chain: keystore V3, HD derivation, a narrow signer, EIP-712, a chain client
with nonce manager and crash-safe outbox, contract bindings and deployment.

The public names below are loaded on first use, so importing `wallet` costs nothing at import
time (web3 and eth-account take most of a second to import). Errors are imported eagerly: they are
tiny and `except` clauses need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wallet.errors import (
    ArtifactError,
    ChainError,
    CorruptKeystore,
    DeploymentError,
    InsecureKeystore,
    InsufficientFunds,
    InvalidKeyMaterial,
    InvalidKeyName,
    KeyExists,
    KeyNotFound,
    KeystoreError,
    NonceError,
    RpcError,
    RpcUnavailable,
    TransactionReverted,
    TransactionTimeout,
    WalletError,
    WrongPassphrase,
)

if TYPE_CHECKING:
    from wallet.artifacts import (
        CONTRACT_NAMES,
        Artifact,
        load_artifact,
    )
    from wallet.chain import (
        ChainClient,
    )
    from wallet.contracts import (
        ActionLogAnchor,
        AgentRegistry,
        ContractBinding,
        DealEscrow,
        TestUSD,
        bind,
        deploy_contract,
    )
    from wallet.deploy import (
        Deployments,
        DeployResult,
        contracts_for,
        deploy_all,
        deployments_path,
    )
    from wallet.hd import (
        derivation_path,
        derive_account,
        new_mnemonic,
        normalize_mnemonic,
    )
    from wallet.keystore import (
        KeyInfo,
        Keystore,
    )
    from wallet.merkle import (
        merkle_proof,
        merkle_root,
        verify_proof,
    )
    from wallet.outbox import (
        Outbox,
        OutboxEntry,
    )
    from wallet.receipts import (
        Receipt,
    )
    from wallet.recovery import (
        RecoveryReport,
    )
    from wallet.signer import (
        SignedTransaction,
        Signer,
    )
    from wallet.trust import (
        ReputationRegistry,
        ValidationRegistry,
    )
    from wallet.typed_data import (
        Deal,
        agent_wallet_typed_data,
        binding_digest,
        deal_digest,
        deal_typed_data,
        recover_typed_data_signer,
    )

_LAZY = {
    "Artifact": "wallet.artifacts",
    "CONTRACT_NAMES": "wallet.artifacts",
    "load_artifact": "wallet.artifacts",
    "ChainClient": "wallet.chain",
    "ActionLogAnchor": "wallet.contracts",
    "AgentRegistry": "wallet.contracts",
    "ContractBinding": "wallet.contracts",
    "DealEscrow": "wallet.contracts",
    "ReputationRegistry": "wallet.trust",
    "ValidationRegistry": "wallet.trust",
    "TestUSD": "wallet.contracts",
    "bind": "wallet.contracts",
    "deploy_contract": "wallet.contracts",
    "DeployResult": "wallet.deploy",
    "Deployments": "wallet.deploy",
    "contracts_for": "wallet.deploy",
    "deploy_all": "wallet.deploy",
    "deployments_path": "wallet.deploy",
    "derivation_path": "wallet.hd",
    "derive_account": "wallet.hd",
    "new_mnemonic": "wallet.hd",
    "normalize_mnemonic": "wallet.hd",
    "KeyInfo": "wallet.keystore",
    "Keystore": "wallet.keystore",
    "merkle_proof": "wallet.merkle",
    "merkle_root": "wallet.merkle",
    "verify_proof": "wallet.merkle",
    "Outbox": "wallet.outbox",
    "OutboxEntry": "wallet.outbox",
    "Receipt": "wallet.receipts",
    "RecoveryReport": "wallet.recovery",
    "SignedTransaction": "wallet.signer",
    "Signer": "wallet.signer",
    "Deal": "wallet.typed_data",
    "agent_wallet_typed_data": "wallet.typed_data",
    "binding_digest": "wallet.typed_data",
    "deal_digest": "wallet.typed_data",
    "deal_typed_data": "wallet.typed_data",
    "recover_typed_data_signer": "wallet.typed_data",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wallet' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "CONTRACT_NAMES",
    "ActionLogAnchor",
    "AgentRegistry",
    "Artifact",
    "ArtifactError",
    "ChainClient",
    "ChainError",
    "ContractBinding",
    "CorruptKeystore",
    "Deal",
    "DealEscrow",
    "DeployResult",
    "DeploymentError",
    "Deployments",
    "InsecureKeystore",
    "InsufficientFunds",
    "InvalidKeyMaterial",
    "InvalidKeyName",
    "KeyExists",
    "KeyInfo",
    "KeyNotFound",
    "Keystore",
    "KeystoreError",
    "NonceError",
    "Outbox",
    "OutboxEntry",
    "Receipt",
    "RecoveryReport",
    "ReputationRegistry",
    "RpcError",
    "RpcUnavailable",
    "SignedTransaction",
    "Signer",
    "TestUSD",
    "TransactionReverted",
    "TransactionTimeout",
    "ValidationRegistry",
    "WalletError",
    "WrongPassphrase",
    "agent_wallet_typed_data",
    "bind",
    "binding_digest",
    "contracts_for",
    "deal_digest",
    "deal_typed_data",
    "deploy_all",
    "deploy_contract",
    "deployments_path",
    "derivation_path",
    "derive_account",
    "load_artifact",
    "merkle_proof",
    "merkle_root",
    "new_mnemonic",
    "normalize_mnemonic",
    "recover_typed_data_signer",
    "verify_proof",
]
