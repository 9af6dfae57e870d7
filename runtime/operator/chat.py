"""The operator's command chat with one agent (`POST /v1/chat`; the console and `sova console` use it).

Commands and plain phrasings, answered from the agent's own state (no LLM needed):

    help · status · budget · deals · negotiations · approvals · ledger [n] · pause [reason] · resume · buy
    why did you refuse the last deal?   (any why + refuse/decline/reject/deny/turn down)
    approve N [reason] / reject N [reason]   → how to do it: a decision needs an operator key's signature

With an LLM brain, text that is none of these goes to `runtime.brains.chat.LlmChat(model, facts)` with a
read-only snapshot of the facts: the LLM may explain and propose; it holds no tool and no key, so it
cannot approve, pause or sign anything. Without an LLM brain the chat says what it understands instead.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.operator.entries import gist, is_denial, reasons, short_did, stage
from runtime.operator.facts import OperatorBackend, OperatorRefusal

if TYPE_CHECKING:
    from runtime.brains.chat import LlmChat
    from runtime.config import LlmBrain
    from runtime.operator.purchase import Purchaser

MAX_LEDGER_LINES = 50
SCAN_BACK = 5000  # entries searched for the last refusal
_WORD = re.compile(r"[a-z0-9]+")
_REFUSAL_WORDS = ("refus", "declin", "reject", "deny", "denied", "turn", "no deal", "fail", "didn")

HELP = """I understand:
  status                 who I am, paused or not, balances, deals
  budget                 spend limits: spent in the last 24 h and left
  deals                  recent deals
  negotiations           open negotiations
  approvals              pending approvals (and recent decisions)
  ledger [n]             the last n ledger entries (default 10)
  why did you refuse the last deal?
  pause [reason]         stop signing now;  resume   allow it again
  buy SERVICE {json}     buy a service from a registered seller, e.g. buy wordcount {"text": "a b c"}
  approve N [reason] / reject N [reason]   decide approval N (signed by an operator key: use the console)"""

LlmFactory = Callable[[dict[str, Any]], Any]
"""Given the facts, an object with `reply(text)` (sync or async) that answers free text."""


class OperatorChat:
    """Answers one operator message at a time. `llm`: a factory of LLM chats (None: commands only)."""

    def __init__(
        self, backend: OperatorBackend, llm: LlmFactory | None = None, *, purchaser: Purchaser | None = None
    ) -> None:
        self.backend = backend
        self.llm = llm
        self.purchaser = purchaser

    async def reply(self, text: str) -> str:
        """The answer to `text` (never raises for bad input: the answer says what is understood)."""
        line = " ".join(text.split())
        lowered = line.lower()
        words = _WORD.findall(lowered)
        if not words:
            return HELP
        command, rest = words[0], line.split(" ", 1)[1] if " " in line else ""
        try:
            if command == "buy":
                return await self._buy(text.strip()[3:].strip())
            return await self._answer(command, rest, lowered, words)
        except OperatorRefusal as exc:
            return str(exc)

    async def _answer(self, command: str, rest: str, lowered: str, words: list[str]) -> str:
        exact = {
            "help": self._help, "status": self._status, "budget": self._budget, "budgets": self._budget,
            "deals": self._deals, "negotiations": self._negotiations, "approvals": self._approvals,
            "resume": self._resume, "unpause": self._resume,
        }  # fmt: skip
        if command in exact and len(words) == 1:
            return await exact[command]()
        if command == "pause":
            return await self._pause(rest)
        if command in ("resume", "unpause"):
            return await self._resume()
        if command == "ledger" and (len(words) == 1 or (len(words) == 2 and words[1].isdigit())):
            return await self._ledger(int(words[1]) if len(words) == 2 else 10)
        if command in ("approve", "reject") and len(words) >= 2:
            return self._decide_hint(command, words[1])
        if "why" in words and any(w in lowered for w in _REFUSAL_WORDS):
            return await self.last_refusal()
        plain = self._plain(words)
        if plain is not None:
            return await exact[plain]()
        return await self._free_text(lowered)

    @staticmethod
    def _plain(words: list[str]) -> str | None:
        """A command named by a plain phrasing ("how much budget is left?", "show me the deals")."""
        for keys, command in (
            (("help", "commands"), "help"),
            (("approval", "approvals", "pending"), "approvals"),
            (("budget", "budgets", "spend", "spent", "limit", "limits"), "budget"),
            (("negotiation", "negotiations", "negotiating", "offers"), "negotiations"),
            (("deal", "deals"), "deals"),
            (("status", "doing", "balance", "balances", "paused"), "status"),
        ):
            if any(k in words for k in keys):
                return command
        return None

    # ----------------------------------------------------------------- answers

    async def _buy(self, rest: str) -> str:
        """`buy SERVICE {json}`: one purchase through the agent's Purchaser (its Buyer, policy, caps)."""
        from pydantic import ValidationError

        from runtime.operator.buy_models import BuyRequest, parse_input
        from runtime.operator.purchase import PurchaseRefused

        if self.purchaser is None:
            return "I cannot buy: no purchaser was given to this chat"
        service, _, raw = rest.partition(" ")
        if not service or service.startswith("{"):
            return 'say `buy SERVICE {json input}`, e.g. buy wordcount {"text": "a b c"}'
        try:
            data = parse_input(raw) if raw.strip() else {}
            result = await self.purchaser.buy(BuyRequest(service=service, input=data, timeout=120))
        except ValueError as exc:  # ValidationError is one too
            first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            return f"not bought: {first.replace('--input', 'the input')}"
        except PurchaseRefused as exc:
            return f"not bought: {exc}"
        return result.line()

    async def _help(self) -> str:
        return HELP

    async def _status(self) -> str:
        s = await self.backend.status()
        paused = f"PAUSED ({s['pause_reason']})" if s["paused"] else "running"
        balances = ", ".join(f"{v} {k}" for k, v in s["balances"].items()) or "unknown (no chain answer)"
        d = s["deals"]
        return (
            f"{s['name']} ({s['role']}), {paused}, up {s['uptime_s']:.0f} s, brain {s['brain']}\n"
            f"DID {s['did']}\nwallet {s['address']}: {balances}\n"
            f"deals: {d['total']} ({d['released']} released, {d['refunded']} refunded, {d['open']} open); "
            f"pending approvals: {s['pending_approvals']}; ledger head {s['ledger_head']}"
        )

    async def _budget(self) -> str:
        rows = (await self.backend.budgets())["budgets"]
        if not rows:
            return "no spend limits in my policy: I spend nothing"
        lines = []
        for r in rows:
            spent = "" if r["spent"] is None else f", spent {r['spent']}"
            lines.append(f"{r['token']} {r['scope']}: limit {r['limit']}{spent}, left {r['left']}")
        return "\n".join(lines)

    async def _deals(self) -> str:
        deals = (await self.backend.deals(10))["deals"]
        if not deals:
            return "no deals yet"
        return "\n".join(
            f"{d['updated']} {d['role']} {d['item'] or '?'} at {d['price'] or '?'} {d['token']} with "
            f"{short_did(d['counterparty'])}: {d['state']}" + (f" ({d['reason']})" if d["reason"] else "")
            for d in deals
        )

    async def _negotiations(self) -> str:
        items = (await self.backend.negotiations())["negotiations"]
        if not items:
            return "no open negotiations"
        return "\n".join(
            f"{n['updated']} {n['role']} with {short_did(n['counterparty'])}: {n['state']}"
            + (f", last offer {n['last_offer']}" if n["last_offer"] else "")
            for n in items
        )

    async def _approvals(self) -> str:
        items = self.backend.approvals()["approvals"]
        if not items:
            return "no approvals asked for"
        lines = []
        for a in items[:15]:
            summary = a["summary"]
            intent = summary.get("intent", {}) if isinstance(summary, dict) else {}
            what = f"{a['skill']} {intent.get('amount', '')} {intent.get('token', '') or ''}".strip()
            votes = f"{len(a['approvers'])}/{a['needed']}"
            why = "; ".join(summary.get("reasons", [])) if isinstance(summary, dict) else ""
            lines.append(
                f"#{a['number']} {a['state']} {what} ({votes} approvals, until {a['deadline']})"
                + (f": {why}" if why and a["state"] == "pending" else "")
            )
        return "\n".join(lines)

    async def _pause(self, reason: str) -> str:
        result = await self.backend.pause(reason or "paused from the chat")
        return f"paused: no signature will be made until `resume` ({result['reason']})"

    async def _resume(self) -> str:
        await self.backend.resume()
        return "resumed: signing is allowed again (within my policy)"

    async def _ledger(self, n: int) -> str:
        n = max(1, min(n, MAX_LEDGER_LINES))
        head = self.backend.ledger.last().seq
        page = await self.backend.ledger_page(max(head - n, 0), n)
        lines = [f"#{e['seq']} {e['ts']} {e['kind']}: {gist(e['kind'], e['data'])}" for e in page["entries"]]
        return "\n".join(lines)

    def _decide_hint(self, command: str, ref: str) -> str:
        approval = self.backend.approval(ref)
        if approval.state != "pending":
            return f"approval #{approval.number} is {approval.state.replace('_', ' ')} already"
        return (
            f"approval #{approval.number} ({approval.skill}) needs an operator key's signature: {command} it "
            f"in the console (it signs with the operator key), or POST /v1/approvals/{approval.id}/{command} "
            f'with {{"signature", "approver", "reason"}} signed by sign_decision'
        )

    async def last_refusal(self) -> str:
        """The reasons of the last declined deal and of the last denied action, from the ledger."""
        ledger = self.backend.ledger
        head = ledger.last().seq
        found_deal = found_action = None
        upto = head
        while upto > max(head - SCAN_BACK, 1) and (found_deal is None or found_action is None):
            start = max(upto - 500, 1)
            for entry in reversed(await asyncio.to_thread(ledger.entries, start, upto)):
                data = entry.data
                if found_deal is None and entry.kind == "deal" and data.get("event") == "declined":
                    found_deal = entry
                elif found_action is None and is_denial(entry.kind, data):
                    found_action = entry
            upto = start - 1
        if found_deal is None and found_action is None:
            return "I have refused nothing yet: no declined deal and no denied action in my ledger"
        lines = []
        if found_deal is not None:
            d = found_deal.data
            lines.append(
                f"the last deal I declined (thread {str(d.get('thid', ''))[:16]}, with "
                f"{short_did(str(d.get('peer', '')))}, ledger #{found_deal.seq}, {found_deal.ts}): "
                f"{d.get('reason') or 'no reason recorded'}"
            )
        if found_action is not None:
            a = found_action.data
            lines.append(
                f"the last action refused was {a.get('skill', '?')} (ledger #{found_action.seq}, "
                f"{stage(found_action.kind, a)}): {'; '.join(reasons(found_action.kind, a))}"
            )
        return "\n".join(lines)

    async def _free_text(self, text: str) -> str:
        if self.llm is None:
            return f"I did not understand {text[:80]!r}.\n{HELP}"
        facts = {
            "status": await self.backend.status(),
            "budgets": (await self.backend.budgets())["budgets"],
            "approvals": self.backend.approvals()["approvals"][:20],
            "negotiations": (await self.backend.negotiations())["negotiations"][:20],
            "deals": (await self.backend.deals(20))["deals"],
            "last_refusal": await self.last_refusal(),
        }
        try:
            answer = self.llm(facts).reply(text)
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception as exc:  # the LLM is an outside service: say so, keep the chat working
            return f"the LLM could not answer ({type(exc).__name__}: {str(exc)[:200]}); `help` lists commands"
        return str(answer)


def llm_factory(brain: LlmBrain, root: Path) -> LlmFactory:
    """The free-text chat of an agent whose brain is `brain`: one `LlmChat` (one conversation, so
    follow-up questions keep their context) over the brain's model, handed the facts of each
    question. The model is made on the first question, so a missing provider package is a chat
    answer, not a failed start. `root` is the folder of agents.yaml (scripted models live there)."""
    from runtime.brains.chat import LlmChat
    from runtime.brains.models import chat_model

    current: dict[str, Any] = {}
    chats: list[LlmChat] = []

    async def facts() -> dict[str, Any]:
        return dict(current)

    def make(new_facts: dict[str, Any]) -> LlmChat:
        current.clear()
        current.update(new_facts)
        if not chats:
            chats.append(LlmChat(chat_model(brain, root=root), facts))
        return chats[0]

    return make
