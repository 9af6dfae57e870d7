"""Skills: typed args -> Intent and exact effects (plan) -> the effect (run) with a narrow signer.

`default_catalog()` gives the built-in skills; `Catalog` and `Skill` let a runtime add its own. Only
`runtime.executor.executor.Executor` runs a skill: it validates, plans, asks the policy, waits for approvals,
and hands `run` a narrow signer that signs exactly the planned effects.
"""

from skills.base import Address, BudgetUse, Bytes32, PartyRef, Planned, Skill, SkillArgs, TokenAmount
from skills.catalog import Catalog, default_catalog
from skills.context import CredentialSource, Messenger, PeerDirectory, SkillContext
from skills.effects import Effect, IdentityEffect, TxEffect, TypedDataEffect, payload_hash
from skills.errors import (
    InvalidSkillArgs,
    PlanError,
    SignatureRefused,
    SigningPaused,
    SkillError,
    SkillNotFound,
    SkillRunError,
    SkillUnavailable,
)
from skills.signing import IdentityOp, NarrowSigner

__all__ = [
    "Address",
    "BudgetUse",
    "Bytes32",
    "Catalog",
    "CredentialSource",
    "Effect",
    "IdentityEffect",
    "IdentityOp",
    "InvalidSkillArgs",
    "Messenger",
    "NarrowSigner",
    "PartyRef",
    "PeerDirectory",
    "PlanError",
    "Planned",
    "SignatureRefused",
    "SigningPaused",
    "Skill",
    "SkillArgs",
    "SkillContext",
    "SkillError",
    "SkillNotFound",
    "SkillRunError",
    "SkillUnavailable",
    "TokenAmount",
    "TxEffect",
    "TypedDataEffect",
    "default_catalog",
    "payload_hash",
]
