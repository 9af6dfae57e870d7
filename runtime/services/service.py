"""What an agent sells: a `Service` (name, input and output models, price, handler, limits), the
`Services` it is registered on, and the `ServiceContext` its handler gets.

Registration is on an explicit object, never a module global:

    services = Services()

    @services.service("wordcount", input=Text, output=Count, price="0.5")
    async def wordcount(text: Text, context: ServiceContext) -> Count: ...

A handler may be sync (it then runs on a worker thread, off the event loop). Its context holds the
agent's name and DID, its chat model when agents.yaml configures one, and a private scratch folder —
never a key, a signer or the executor: a handler's only effect is its output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, TypeAlias

from pydantic import BaseModel, ValidationError

from runtime.services.errors import BadServiceInput, PluginError

__all__ = [
    "DEFAULT_MAX_INPUT",
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_TIMEOUT",
    "Requirement",
    "Service",
    "ServiceContext",
    "Services",
]

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds a handler may run."""
DEFAULT_MAX_INPUT: Final = 32 * 1024
"""Bytes of an input's canonical JSON a service takes. Inputs and outputs travel inside signed
envelopes (base64url: 4/3 larger) and the A2A guard takes bodies up to 64 KiB: 32 KiB leaves room."""
DEFAULT_MAX_OUTPUT: Final = 32 * 1024
"""Bytes of an output's canonical JSON a service may deliver (see DEFAULT_MAX_INPUT)."""

Handler: TypeAlias = Callable[[Any, "ServiceContext"], Any]
"""(input model, context) -> output model (or a dict that validates as one); sync or async."""
Price: TypeAlias = str | Callable[[Any], str | Decimal | int]
"""A fixed decimal string in token units, or a function of the validated input that returns one."""


@dataclass(frozen=True)
class ServiceContext:
    """What a handler may use. `llm`: the agent's LangChain chat model when its brain is an LLM one,
    else None. `scratch`: a folder only this agent writes (0700), kept between runs."""

    agent_name: str
    agent_did: str
    scratch: Path
    llm: Any = None


@dataclass(frozen=True)
class Requirement:
    """A credential the buyer must present: its type, from one of `issuers` (names or DIDs; empty:
    any of the seller's trusted issuers)."""

    type: str
    issuers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    """One service. `input`/`output` are pydantic models; `timeout` in seconds; `max_input` and
    `max_output` in bytes of canonical JSON."""

    name: str
    input: type[BaseModel]
    output: type[BaseModel]
    handler: Handler
    price: Price
    description: str = ""
    requires: tuple[Requirement, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    max_input: int = DEFAULT_MAX_INPUT
    max_output: int = DEFAULT_MAX_OUTPUT

    def input_schema(self) -> dict[str, Any]:
        return self.input.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output.model_json_schema()

    def fixed_price(self) -> str | None:
        """The price when it does not depend on the input, else None."""
        return self.price if isinstance(self.price, str) else None

    def read_input(self, data: Any) -> BaseModel:
        """`data` (JSON) as the input model; BadServiceInput with one line when it does not fit."""
        from identity.jcs import canonicalize

        try:
            size = len(canonicalize(data))
        except (TypeError, ValueError) as exc:
            raise BadServiceInput(f"the input to {self.name} is not plain JSON: {exc}") from None
        if size > self.max_input:
            raise BadServiceInput(f"the input to {self.name} is {size} bytes, over its {self.max_input}")
        try:
            return self.input.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "input"
            raise BadServiceInput(
                f"the input does not match {self.name}'s schema: {where}: {first['msg']}"
            ) from None

    def quote(self, value: BaseModel) -> Decimal:
        """The price of `value` (a validated input), in token units. BadServiceInput when the price
        function fails or gives no positive decimal."""
        try:
            raw = self.price if isinstance(self.price, str) else self.price(value)
            price = Decimal(str(raw))
        except (InvalidOperation, ArithmeticError, ValueError, TypeError) as exc:
            raise BadServiceInput(f"{self.name} cannot price this input: {exc}") from None
        if not price.is_finite() or price <= 0:
            raise BadServiceInput(f"{self.name} prices this input at {price}: not a positive amount")
        return price


class Services:
    """The services one agent (or one plugin) registers, by name."""

    def __init__(self) -> None:
        self._services: dict[str, Service] = {}

    def service(
        self,
        name: str,
        *,
        input: type[BaseModel],
        output: type[BaseModel],
        price: Price,
        description: str = "",
        requires: tuple[Requirement, ...] = (),
        timeout: float = DEFAULT_TIMEOUT,
        max_input: int = DEFAULT_MAX_INPUT,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> Callable[[Handler], Handler]:
        """A decorator that registers its function as the handler of service `name`."""

        def register(handler: Handler) -> Handler:
            self.add(
                Service(
                    name, input, output, handler, price, description or (handler.__doc__ or "").strip(),
                    tuple(requires), timeout, max_input, max_output,
                )
            )  # fmt: skip
            return handler

        return register

    def add(self, service: Service) -> None:
        """Register `service`; PluginError when it is malformed or its name is taken."""
        problem = _problem(service)
        if problem is not None:
            raise PluginError(f"service {service.name!r}: {problem}")
        if service.name in self._services:
            raise PluginError(f"service {service.name!r} is registered twice")
        self._services[service.name] = service

    def get(self, name: str) -> Service | None:
        return self._services.get(name)

    def names(self) -> list[str]:
        return list(self._services)

    def __iter__(self) -> Iterator[Service]:
        return iter(self._services.values())

    def __len__(self) -> int:
        return len(self._services)

    def __contains__(self, name: object) -> bool:
        return name in self._services


def _problem(service: Service) -> str | None:
    """What is wrong with a service as registered (None: nothing)."""
    if (
        not service.name
        or len(service.name) > 64
        or not service.name.replace("-", "").replace("_", "").isalnum()
    ):
        return "a name is 1-64 letters, digits, '-' or '_'"
    for role, model in (("input", service.input), ("output", service.output)):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return f"its {role} must be a pydantic model class"
    if not callable(service.handler):
        return "its handler is not callable"
    if isinstance(service.price, str):
        try:
            if Decimal(service.price) <= 0:
                return f"its price {service.price!r} is not positive"
        except InvalidOperation:
            return f"its price {service.price!r} is not a decimal string"
    elif not callable(service.price):
        return "its price is neither a decimal string nor a function of the input"
    if service.timeout <= 0 or service.max_input <= 0 or service.max_output <= 0:
        return "its timeout and size limits must be positive"
    return None
