"""The check registry: kinds by name, each with its declared parameters and one measured
value and verdict (keigov.report.results). `keigov sim`'s scenarios and `keigov replay`'s
rules files both list checks as `[[checks]] kind = ... <params>`, validated here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from keigov.errors import InputError
from keigov.report.results import CheckResult
from keigov.schema import Field, validate


@dataclass
class CheckSpec:
    kind: str
    params: dict[str, Any]


class CheckContext(Protocol):
    """What the kinds read their limits from: a rig scenario, or a replay's rules."""

    @property
    def path(self) -> Path: ...
    @property
    def checks(self) -> list[CheckSpec]: ...
    @property
    def faults(self) -> Sequence[Any]: ...          # injected faults (start_s, ...): a replay injects none
    @property
    def gnss(self) -> dict[str, Any]: ...           # the GNSS receiver's settings (rate_hz, ...)
    @property
    def outages(self) -> Sequence[tuple[float, ...]]: ...   # GNSS outage windows: a replay injects none
    @property
    def zones(self) -> Any: ...                     # keigov.zones.checked.CompiledZones, or None
    @property
    def cap_kph(self) -> float: ...
    @property
    def limp_kph(self) -> float: ...
    def firmware_value(self, name: str) -> int: ...


class ScenarioContext(CheckContext, Protocol):
    """A rig scenario's further limits: the kinds that judge a simulated run read these."""

    @property
    def duration_s(self) -> float: ...


# A rule over a check's parameters together: the problem in words, or None.
ParamsRule = Callable[[dict[str, Any]], "str | None"]


@dataclass(frozen=True)
class CheckKind:
    measure: Callable[[Any, Any, dict[str, Any]], CheckResult]
    params: dict[str, Field]
    summary: str
    rule: ParamsRule | None = None


class CheckRegistry(dict[str, CheckKind]):
    """Check kinds by name. `keigov sim` has keigov.checks.kinds.CHECKS; `keigov replay` its
    own registry (keigov.replay.rules) that takes some kinds from it and adds its own."""

    def check(self, kind: str, summary: str, rule: ParamsRule | None = None, /, **params: Field):
        """Register a kind; `rule` checks what one key's schema cannot (keys that go together)."""
        def register(func: Callable[[Any, Any, dict[str, Any]], CheckResult]):
            self[kind] = CheckKind(func, params, summary, rule)
            return func

        return register

    def validate(self, table: dict[str, Any], path: Path, prefix: str) -> CheckSpec:
        kind = table.get("kind")
        entry = self.get(kind) if isinstance(kind, str) else None
        if entry is None:
            raise InputError(f"'{prefix}.kind' = {kind!r} is not a check kind (known: {', '.join(sorted(self))})",
                             where=str(path))
        schema = {"kind": Field(str), "name": Field(str, None), **entry.params}
        params = validate(table, schema, path, prefix)
        problem = entry.rule(params) if entry.rule else None
        if problem:
            raise InputError(f"'{prefix}' ({kind}): {problem}", where=str(path))
        return CheckSpec(str(kind), params)

    def run(self, data: Any, context: CheckContext, specs: list[CheckSpec]) -> list[CheckResult]:
        """Measure each check against the limits `context` holds."""
        results = []
        for spec in specs:
            result = self[spec.kind].measure(data, context, spec.params)
            if spec.params.get("name"):
                result.name = spec.params["name"]
            results.append(result)
        return results
