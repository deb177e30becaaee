"""A job with an injected client and the function that builds its container, for
``--container`` and ``BATON_CONTAINER``."""

from __future__ import annotations

from dishka import AsyncContainer, Provider, Scope, make_async_container, provide

from baton import Job, RunContext, job


class Greeter:
    def greet(self, name: str) -> str:
        return f"hello {name}"


@job("greet")
class Greet(Job):
    name: str

    async def run(self, greeter: Greeter, ctx: RunContext) -> None:
        if greeter.greet(self.name) != f"hello {self.name}":
            raise AssertionError("the wrong greeter was injected")


class Services(Provider):
    greeter = provide(Greeter, scope=Scope.APP)


async def make_container() -> AsyncContainer:
    """Async on purpose: the option accepts either kind of function."""
    return make_async_container(Services())


def not_a_container() -> str:
    return "a string"
