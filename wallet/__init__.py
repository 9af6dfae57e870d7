"""Keys, signing and the chain: keystore V3, HD derivation, a narrow signer, EIP-712, a chain client
with nonce manager and crash-safe outbox, contract bindings and deployment.

The public names below are loaded on first use, so importing `wallet` costs nothing at import
time (web3 alone takes half a second to import).
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
    KeyExists,
    KeyNotFound,
    KeystoreError,
    NonceError,
    RpcUnavailable,
    TransactionReverted,
    TransactionTimeout,
    WalletError,
    WrongPassphrase,
)

if TYPE_CHECKING:
    from wallet.artifacts import CONTRACT_NAMES, Artifact, load_artifact
    from wallet.chain import ChainClient
    from wallet.contracts import ContractBinding
    from wallet.deploy import Deployments, deploy_all
    from wallet.keystore import KeyInfo, Keystore
    from wallet.merkle import merkle_proof, merkle_root, verify_proof
    from wallet.outbox import Outbox
    from wallet.signer import Signer
    from wallet.typed_data import Deal, binding_digest, deal_digest, deal_typed_data, recover_typed_data_signer

_LAZY = {
    "CONTRACT_NAMES": "wallet.artifacts",
    "Artifact": "wallet.artifacts",
    "load_artifact": "wallet.artifacts",
    "ChainClient": "wallet.chain",
    "ContractBinding": "wallet.contracts",
    "Deployments": "wallet.deploy",
    "deploy_all": "wallet.deploy",
    "KeyInfo": "wallet.keystore",
    "Keystore": "wallet.keystore",
    "merkle_proof": "wallet.merkle",
    "merkle_root": "wallet.merkle",
    "verify_proof": "wallet.merkle",
    "Outbox": "wallet.outbox",
    "Signer": "wallet.signer",
    "Deal": "wallet.typed_data",
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
    "Artifact",
    "ArtifactError",
    "ChainClient",
    "ChainError",
    "ContractBinding",
    "CorruptKeystore",
    "Deal",
    "DeploymentError",
    "Deployments",
    "InsecureKeystore",
    "InsufficientFunds",
    "KeyExists",
    "KeyInfo",
    "KeyNotFound",
    "Keystore",
    "KeystoreError",
    "NonceError",
    "Outbox",
    "RpcUnavailable",
    "Signer",
    "TransactionReverted",
    "TransactionTimeout",
    "WalletError",
    "WrongPassphrase",
    "binding_digest",
    "deal_digest",
    "deal_typed_data",
    "deploy_all",
    "load_artifact",
    "merkle_proof",
    "merkle_root",
    "recover_typed_data_signer",
    "verify_proof",
]
