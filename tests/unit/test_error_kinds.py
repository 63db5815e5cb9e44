"""Every error of the family names its own machine-readable kind (docs/api.md lists them)."""

from __future__ import annotations


def test_every_error_the_service_raises_has_its_own_kind() -> None:
    """The envelope's ``error`` kind is what programs act on: a class of the family that forgot to name its
    kind would answer with its parent's (a 400 once answered ``internal``). A class may share its parent's kind
    only where it shares its status too (``CircuitOpen`` is one way of ``upstream_unavailable``)."""
    import importlib
    import pkgutil

    import travel_agent
    from travel_agent.errors import TravelAgentError

    for module in pkgutil.walk_packages(travel_agent.__path__, "travel_agent."):
        if module.name.startswith("travel_agent.chat_page") or module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)
    found: list[type[TravelAgentError]] = []
    pending = [TravelAgentError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    unnamed = [
        cls.__qualname__
        for cls in found[1:]
        if "kind" not in vars(cls) and cls.status_code != cls.__mro__[1].status_code  # type: ignore[attr-defined]
    ]
    assert unnamed == []
    assert len({cls.kind for cls in found if "kind" in vars(cls)}) > 10
