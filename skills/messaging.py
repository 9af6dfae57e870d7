"""`send_message`: one signed agent-to-agent message through the messenger (the A2A transport).

The messenger signs the envelope with the identity key inside the protocol layer; the skill first uses
up its approval with the narrow signer (`permit`), so a paused agent or an unapproved message sends
nothing.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from identity.jcs import canonicalize
from skills.base import PartyRef, Planned, Skill, SkillArgs
from skills.effects import IdentityEffect
from skills.errors import PlanError, SkillUnavailable

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner

MAX_BODY = 64 * 1024


class SendArgs(SkillArgs):
    to: PartyRef
    type: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$", description="message type, e.g. cfp, propose, accept"
    )
    thid: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        min_length=1,
        max_length=128,
        description="conversation thread id (default: a new thread)",
    )
    body: dict[str, Any] = Field(default_factory=dict, description="JSON body; send amounts as strings")

    @field_validator("body")
    @classmethod
    def _json_body(cls, body: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(canonicalize(body))
        except ValueError as exc:
            raise ValueError(f"body is not plain JSON ({exc})") from None
        if size > MAX_BODY:
            raise ValueError(f"body is {size} bytes, over the {MAX_BODY}-byte limit")
        return body


class SendMessage(Skill[SendArgs]):
    """Send a signed message of `type` to another agent (by DID or agent name) in thread `thid`."""

    name = "send_message"
    args_model = SendArgs

    def plan(self, ctx: SkillContext, args: SendArgs) -> Planned[SendArgs]:
        party = ctx.counterparty(args.to)
        if party.did is None:
            raise PlanError(f"no DID is known for {args.to}: messages go to a DID")
        params = {"to": party.did, "type": args.type, "thid": args.thid, "body": args.body}
        intent = ctx.intent(self.name, counterparty=party)
        return Planned(intent, args, (IdentityEffect.of("send_message", params),))

    async def run(
        self, ctx: SkillContext, planned: Planned[SendArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        if ctx.messenger is None:
            raise SkillUnavailable("this agent has no messenger: it cannot send messages")
        effect = planned.effect(IdentityEffect)
        signer.permit("send_message", effect.params)
        params = effect.params
        reply = await ctx.messenger.send(params["to"], params["type"], params["thid"], dict(params["body"]))
        return {"to": params["to"], "thid": params["thid"], "reply": reply}
