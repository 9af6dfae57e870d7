"""The negotiation state machine: what each role may send when, and the thread store on disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.a2a.threads import MESSAGE_TYPES, OutOfOrder, ThreadState, ThreadStore, advance

PEER = "did:key:z6MkPeer"
HAPPY = [  # (type, sent by) from the buyer's side of a thread it opens
    ("cfp", "buyer"),
    ("propose", "seller"),
    ("counter", "buyer"),
    ("counter", "seller"),
    ("accept", "buyer"),
    ("deal_signature", "seller"),
    ("deal_signature", "buyer"),
    ("funded", "buyer"),
    ("deliver", "seller"),
    ("released", "buyer"),
]


def run(steps: list[tuple[str, str]], me: str = "buyer") -> ThreadState | None:
    """Apply (type, sender role) steps from `me`'s point of view; the final state."""
    state: ThreadState | None = None
    for type_, sender in steps:
        state = advance(state, peer=PEER, thid="t", type=type_, by_us=sender == me)
    return state


@pytest.mark.parametrize("me", ["buyer", "seller"])
def test_a_whole_deal_runs_from_cfp_to_released_on_both_sides(me: str) -> None:
    state = run(HAPPY, me)
    assert state is not None
    assert state.state == "released"
    assert state.final
    assert state.role == me
    assert state.signed == ("buyer", "seller")
    assert state.messages == len(HAPPY)


def test_a_seller_may_open_a_thread_with_a_proposal() -> None:
    state = run([("propose", "seller"), ("accept", "buyer")], me="seller")
    assert state is not None
    assert state.state == "accepted"
    assert state.role == "seller"


@pytest.mark.parametrize("first", ["counter", "accept", "reject", "deal_signature", "funded", "deliver",
                                   "released", "dispute"])  # fmt: skip
def test_a_thread_cannot_start_with_anything_but_cfp_or_propose(first: str) -> None:
    with pytest.raises(OutOfOrder) as err:
        advance(None, peer=PEER, thid="t", type=first, by_us=False)
    assert err.value.reason == "out_of_order"


def test_accept_before_any_proposal_is_refused() -> None:
    with pytest.raises(OutOfOrder, match="out of order"):
        run([("cfp", "buyer"), ("accept", "seller")])


@pytest.mark.parametrize("type_", ["accept", "counter"])
def test_nobody_accepts_or_counters_their_own_offer(type_: str) -> None:
    with pytest.raises(OutOfOrder, match="own offer"):
        run([("cfp", "buyer"), ("propose", "seller"), (type_, "seller")])


def test_funded_needs_both_deal_signatures() -> None:
    accepted = HAPPY[:5]
    with pytest.raises(OutOfOrder):
        run([*accepted, ("funded", "buyer")])
    with pytest.raises(OutOfOrder):
        run([*accepted, ("deal_signature", "seller"), ("funded", "buyer")])
    state = run([*accepted, ("deal_signature", "seller"), ("deal_signature", "buyer"), ("funded", "buyer")])
    assert state is not None
    assert state.state == "funded"


def test_a_party_signs_the_deal_once() -> None:
    with pytest.raises(OutOfOrder, match="already sent its deal signature"):
        run([*HAPPY[:6], ("deal_signature", "seller")])


@pytest.mark.parametrize(
    ("type_", "sender", "at"),
    [("funded", "seller", 7), ("deliver", "buyer", 8), ("released", "seller", 9), ("propose", "buyer", 1),
     ("cfp", "buyer", 2)],
)  # fmt: skip
def test_role_bound_messages_come_only_from_their_role(type_: str, sender: str, at: int) -> None:
    with pytest.raises(OutOfOrder):
        run([*HAPPY[:at], (type_, sender)])


@pytest.mark.parametrize("closing", [("released", "buyer"), ("reject", "seller"), ("dispute", "buyer")])
@pytest.mark.parametrize("after", MESSAGE_TYPES)
def test_nothing_is_accepted_after_released_reject_or_dispute(closing: tuple[str, str], after: str) -> None:
    prefix = {"released": HAPPY[:9], "reject": HAPPY[:2], "dispute": HAPPY[:8]}[closing[0]]
    closed = run([*prefix, closing])
    assert closed is not None
    assert closed.final
    for sender in ("buyer", "seller"):
        with pytest.raises(OutOfOrder):
            advance(closed, peer=PEER, thid="t", type=after, by_us=sender == "buyer")


def test_reject_is_allowed_until_the_escrow_is_funded() -> None:
    for at in (1, 2, 5, 7):
        state = run([*HAPPY[:at], ("reject", "seller")])
        assert state is not None
        assert state.state == "rejected"
    with pytest.raises(OutOfOrder):
        run([*HAPPY[:8], ("reject", "seller")])


def test_an_unknown_type_has_its_own_reason() -> None:
    with pytest.raises(OutOfOrder) as err:
        advance(None, peer=PEER, thid="t", type="pay_me", by_us=False)
    assert err.value.reason == "unknown_type"


steps = st.lists(st.tuples(st.sampled_from([*MESSAGE_TYPES, "bogus"]), st.sampled_from(["buyer", "seller"])),
                 max_size=14)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(steps)
def test_buyer_and_seller_views_accept_the_same_messages_and_agree(seq: list[tuple[str, str]]) -> None:
    buyer: ThreadState | None = None
    seller: ThreadState | None = None
    for type_, sender in seq:
        outcomes = []
        for me in ("buyer", "seller"):
            current = buyer if me == "buyer" else seller
            try:
                new = advance(current, peer=PEER, thid="t", type=type_, by_us=sender == me)
            except OutOfOrder:
                outcomes.append(None)
                continue
            outcomes.append(new)
            if me == "buyer":
                buyer = new
            else:
                seller = new
        assert (outcomes[0] is None) == (outcomes[1] is None)
        if buyer is not None and seller is not None:
            assert (buyer.state, buyer.offer_by, buyer.signed) == (
                seller.state,
                seller.offer_by,
                seller.signed,
            )
            assert buyer.role != seller.role


def test_thread_states_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    state = run(HAPPY[:6])
    assert state is not None
    with ThreadStore(path) as store:
        store.put(state)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with ThreadStore(path) as store:
        again = store.get(PEER, "t")
        assert store.all() == [again]
    assert again is not None
    assert (again.role, again.state, again.offer_by, again.signed, again.last_type, again.messages) == (
        state.role, state.state, state.offer_by, state.signed, state.last_type, state.messages,
    )  # fmt: skip


def test_the_same_thid_with_another_peer_is_another_thread(tmp_path: Path) -> None:
    with ThreadStore(tmp_path / "threads.sqlite") as store:
        store.put(ThreadState(peer=PEER, thid="t", role="buyer", state="open"))
        assert store.get("did:key:z6MkOther", "t") is None


def test_the_cache_forgets_old_threads_but_the_file_keeps_them(tmp_path: Path) -> None:
    with ThreadStore(tmp_path / "threads.sqlite", cache_size=2) as store:
        for i in range(5):
            store.put(ThreadState(peer=PEER, thid=f"t{i}", role="seller", state="open", messages=i))
        assert len(store._cache) == 2
        first = store.get(PEER, "t0")
        assert first is not None
        assert first.messages == 0


@pytest.mark.parametrize("me", ["buyer", "seller"])
def test_a_buyer_that_restarted_may_send_funded_again_until_the_release(me: str) -> None:
    for at in (8, 9):  # after funded, after deliver
        again = run([*HAPPY[:at], ("funded", "buyer")], me)
        assert again is not None
        assert again.state == "funded"
        done = run([*HAPPY[:at], ("funded", "buyer"), ("deliver", "seller"), ("released", "buyer")], me)
        assert done is not None
        assert done.state == "released"
    with pytest.raises(OutOfOrder):
        run([*HAPPY[:9], ("funded", "seller")], me)
    with pytest.raises(OutOfOrder):
        run([*HAPPY, ("funded", "buyer")], me)
