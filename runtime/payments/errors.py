"""Errors of x402 payments: each message is one line saying what is wrong and what to do.

SovaError
└── PaymentError             an x402 exchange could not be done (exit 2 on the CLI)
    ├── BadPaymentHeader     a header or body that cannot be read (malformed, oversized)
    ├── NoPayableOffer       no `accepts` entry this agent can pay (scheme, network, asset, amount)
    └── FacilitatorError     the facilitator is down, slow, or answered nonsense
CheckFailed
└── SettlementUnproven       a settlement the chain does not show (exit 1: a check found a problem)
"""

from __future__ import annotations

from runtime.errors import CheckFailed, SovaError

__all__ = ["BadPaymentHeader", "FacilitatorError", "NoPayableOffer", "PaymentError", "SettlementUnproven"]


class PaymentError(SovaError):
    """An x402 exchange could not be done."""


class BadPaymentHeader(PaymentError):
    """An x402 header or body that cannot be read: one line saying which and why."""


class NoPayableOffer(PaymentError):
    """None of the server's `accepts` entries can be paid by this agent."""


class FacilitatorError(PaymentError):
    """The facilitator could not be reached in time, or its answer is not x402."""


class SettlementUnproven(CheckFailed):
    """A server or facilitator claims a settlement that the chain does not show."""
