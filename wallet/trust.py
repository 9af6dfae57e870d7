"""Bindings of the ERC-8004 trust registries: ReputationRegistry (feedback, only from a paying client
of a released deal) and ValidationRegistry (validators score an agent's work)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wallet.contracts import ContractBinding
from wallet.typed_data import Deal

__all__ = ["TRUST_BINDINGS", "ReputationRegistry", "ValidationRegistry"]


class ReputationRegistry(ContractBinding):
    """ERC-8004 feedback, accepted only from a client with a released DealEscrow deal with the agent,
    once per deal (`recordSettledDeal`, then `giveFeedback`)."""

    def record_settled_deal_tx(self, agent_id: int, deal: Deal) -> dict[str, Any]:
        return self.build("recordSettledDeal", agent_id, deal.as_tuple())

    def give_feedback_tx(
        self,
        agent_id: int,
        value: int,
        decimals: int = 0,
        tag1: str = "",
        tag2: str = "",
        endpoint: str = "",
        feedback_uri: str = "",
        feedback_hash: bytes = b"\0" * 32,
    ) -> dict[str, Any]:
        return self.build(
            "giveFeedback", agent_id, value, decimals, tag1, tag2, endpoint, feedback_uri, feedback_hash
        )

    async def summary(
        self, agent_id: int, clients: Sequence[str] = (), tag1: str = "", tag2: str = ""
    ) -> tuple[int, int, int]:
        """`getSummary`: (count, value, decimals) over `clients` (every client when empty)."""
        count, value, decimals = await self.call("getSummary", agent_id, list(clients), tag1, tag2)
        return int(count), int(value), int(decimals)

    async def settled_deals(self, agent_id: int) -> int:
        """`settledDeals`: how many released deals of the agent as seller are on record."""
        return int(await self.call("settledDeals", agent_id))


class ValidationRegistry(ContractBinding):
    """ERC-8004 validation: the agent's owner asks a validator (`validationRequest`), the validator
    answers 0-100 (`validationResponse`)."""

    def request_tx(
        self, validator: str, agent_id: int, request_uri: str, request_hash: bytes
    ) -> dict[str, Any]:
        return self.build("validationRequest", validator, agent_id, request_uri, request_hash)

    def response_tx(
        self, request_hash: bytes, response: int, response_uri: str = "", response_hash: bytes = b"\0" * 32,
        tag: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        return self.build("validationResponse", request_hash, response, response_uri, response_hash, tag)

    async def summary(self, agent_id: int, validators: Sequence[str] = (), tag: str = "") -> tuple[int, int]:
        """`getSummary`: (count, average response) of the answered requests."""
        count, average = await self.call("getSummary", agent_id, list(validators), tag)
        return int(count), int(average)


TRUST_BINDINGS: dict[str, type[ContractBinding]] = {
    "ReputationRegistry": ReputationRegistry,
    "ValidationRegistry": ValidationRegistry,
}
