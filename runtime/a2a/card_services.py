"""The services an agent sells, as its card shows them: one A2A `AgentSkill` per service (id = the
service's name, tagged with it) and, in the negotiation extension's `services` parameter, each
service's input and output JSON Schemas, price and credential requirements:

    "services": {"wordcount": {"description": "...", "inputSchema": {...}, "outputSchema": {...},
                               "price": "9" | "" (quoted per input), "requires": [{"type", "issuers"}]}}

The card is signed, so a buyer that verified it holds the seller's own word for the output schema it
checks a delivery against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from a2a.types import a2a_pb2 as a2a


@dataclass(frozen=True)
class ServiceSpec:
    """One service as a card carries it. `price`: a fixed decimal string, or "" when quoted per input."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    output_schema: Mapping[str, Any] = field(default_factory=dict)
    price: str = ""
    requires: tuple[Mapping[str, Any], ...] = ()


def service_skills(specs: Iterable[ServiceSpec]) -> list[a2a.AgentSkill]:
    """An A2A skill per service."""
    return [
        a2a.AgentSkill(
            id=spec.name,
            name=spec.name,
            description=spec.description or f"the {spec.name} service",
            tags=["sova-service", spec.name],
            input_modes=["application/json"],
            output_modes=["application/json"],
        )
        for spec in specs
    ]


def services_param(specs: Iterable[ServiceSpec]) -> dict[str, Any]:
    """The negotiation extension's `services` parameter."""
    return {
        spec.name: {
            "description": spec.description,
            "inputSchema": dict(spec.input_schema),
            "outputSchema": dict(spec.output_schema),
            "price": spec.price,
            "requires": [dict(r) for r in spec.requires],
        }
        for spec in specs
    }


def read_services(param: Any) -> dict[str, ServiceSpec]:
    """The services of a verified card's `services` parameter (anything malformed is left out)."""
    if not isinstance(param, dict):
        return {}
    found: dict[str, ServiceSpec] = {}
    for name, entry in param.items():
        if not isinstance(entry, dict):
            continue
        inputs, outputs = entry.get("inputSchema"), entry.get("outputSchema")
        requires = entry.get("requires")
        found[str(name)] = ServiceSpec(
            name=str(name), description=str(entry.get("description", "")),
            input_schema=inputs if isinstance(inputs, dict) else {},
            output_schema=outputs if isinstance(outputs, dict) else {},
            price=str(entry.get("price", "")),
            requires=tuple(r for r in requires if isinstance(r, dict)) if isinstance(requires, list) else (),
        )  # fmt: skip
    return found
