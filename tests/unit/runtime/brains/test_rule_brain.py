"""The deterministic concession brain: strategies, bounds, acceptance and convergence."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.brains.rules import ConcessionBrain, Move, NoDealZone
from runtime.config import RuleBrain
from tests.support.paths import REPO_ROOT

D = Decimal


def brain(
    role: str, target: str, reservation: str, strategy: str = "linear", rounds: int = 5, **kw: object
) -> ConcessionBrain:
    config = RuleBrain(target=target, reservation=reservation, strategy=strategy, rounds=rounds)  # type: ignore[arg-type]
    return ConcessionBrain(config, role, **kw)  # type: ignore[arg-type]


def negotiate(buyer: ConcessionBrain, seller: ConcessionBrain) -> tuple[Move, int]:
    """Seller opens; alternate until someone accepts or rejects."""
    price = seller.offer(0)
    sides = [buyer, seller]
    for round_no in range(max(buyer.rounds, seller.rounds) * 2):
        move = sides[round_no % 2].respond(price, round_no)
        if move.kind != "counter":
            return move, round_no
        assert move.price is not None
        price = move.price
    raise AssertionError("no end")


def test_opening_offer_is_the_target_and_the_last_is_the_reservation() -> None:
    b = brain("buyer", "8", "12")
    assert b.offer(0) == D(8)
    assert b.offer(5) == D(12)


@pytest.mark.parametrize(("role", "target", "reservation"), [("buyer", "8", "12"), ("seller", "14", "9")])
def test_boulware_concedes_least_early_and_conceder_most(role: str, target: str, reservation: str) -> None:
    offers = {
        s: brain(role, target, reservation, s, rounds=10).offer(3) for s in ("boulware", "linear", "conceder")
    }
    distance = {s: abs(o - D(target)) for s, o in offers.items()}
    assert distance["boulware"] < distance["linear"] < distance["conceder"]


def test_the_deadline_advances_time_like_rounds() -> None:
    config = RuleBrain(target="8", reservation="12", rounds=100, deadline=timedelta(seconds=10))
    b = ConcessionBrain(config, "buyer")
    assert b.offer(1, elapsed=5.0) == D(10)
    assert b.offer(1, elapsed=99.0) == D(12)


def test_buyer_never_plans_past_the_policy_cap() -> None:
    b = brain("buyer", "8", "12", cap=D(10))
    assert max(b.offer(r) for r in range(6)) == D(10)
    assert b.respond(D("10.5"), 4).kind == "reject"


def test_accepts_an_offer_as_good_as_its_next_counter() -> None:
    b = brain("buyer", "8", "12")
    assert b.offer(1) == D("8.8")
    assert b.respond(D("8.5"), 0).kind == "accept"
    assert b.respond(D("8.5"), 0).price == D("8.5")
    assert b.respond(D(9), 0).kind == "counter"
    counter = b.respond(D(13), 0)
    assert counter.kind == "counter"
    assert counter.price == b.offer(1)


def test_out_of_rounds_without_agreement_rejects() -> None:
    b = brain("buyer", "8", "12", rounds=3)
    assert b.respond(D(20), 2).kind == "reject"
    assert b.respond(D(11), 2).kind == "accept"


def test_overlapping_zones_settle_inside_both() -> None:
    # Rounds count every offer of either side: a Boulware seller needs time to come down.
    move, _ = negotiate(
        brain("buyer", "8", "12", rounds=10), brain("seller", "14", "9", "boulware", rounds=10)
    )
    assert move.kind == "accept"
    assert move.price is not None
    assert D(9) <= move.price <= D(12)


def test_disjoint_zones_end_in_reject() -> None:
    move, _ = negotiate(brain("buyer", "5", "8"), brain("seller", "14", "9"))
    assert move.kind == "reject"


def test_swapped_target_and_reservation_is_explained() -> None:
    with pytest.raises(NoDealZone, match="swap them"):
        brain("buyer", "12", "8")


@given(
    their=st.decimals(min_value=0, max_value=1000, places=6),
    round_no=st.integers(min_value=0, max_value=10),
    strategy=st.sampled_from(["boulware", "linear", "conceder"]),
)
def test_buyer_never_accepts_or_offers_above_its_reservation(
    their: Decimal, round_no: int, strategy: str
) -> None:
    b = brain("buyer", "8", "12", strategy)
    move = b.respond(their, round_no)
    price = move.price if move.price is not None else D(0)
    assert price <= D(12)


@given(
    their=st.decimals(min_value=0, max_value=1000, places=6),
    round_no=st.integers(min_value=0, max_value=10),
)
def test_seller_never_accepts_or_offers_below_its_reservation(their: Decimal, round_no: int) -> None:
    s = brain("seller", "14", "9", "boulware")
    move = s.respond(their, round_no)
    if move.price is not None:
        assert move.price >= D(9)


def test_the_shipped_demo_buyer_and_seller_reach_a_deal_within_the_buyers_cap() -> None:

    from runtime.config import RuleBrain as RuleBrainConfig
    from runtime.config import load_config

    config = load_config(REPO_ROOT / "agents.yaml")
    buyer_cfg, seller_cfg = config.agent("buyer").brain, config.agent("seller").brain
    assert isinstance(buyer_cfg, RuleBrainConfig)
    assert isinstance(seller_cfg, RuleBrainConfig)
    move, _ = negotiate(ConcessionBrain(buyer_cfg, "buyer", cap=D(50)), ConcessionBrain(seller_cfg, "seller"))
    assert move.kind == "accept"
    assert move.price is not None
    assert D(seller_cfg.reservation) <= move.price <= D(buyer_cfg.reservation)


@pytest.mark.parametrize(
    ("price", "says"),
    [
        ("1e400", "no sign, exponent or separators"),
        ("9" * 39 + "9" * 2, "at most 40 characters"),
        ("\u0663\u0660", "ASCII digits"),
        ("12.0000001", "more than the token's 6 decimals"),
        ("0", "not a positive amount"),
        (12, "has no price"),
    ],
)
def test_a_peers_hostile_price_is_refused_with_one_line(price: object, says: str) -> None:
    from runtime.brains.rules import read_price

    with pytest.raises(ValueError, match=says):
        read_price({"price": price})
