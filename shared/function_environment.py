"""The environment contract of a Lambda function: one pydantic model per function whose field
aliases are its environment variables. The CDK app, the local stack and the tests all render the
environment from it (``to_environment``), and the function reads itself back with the same model,
so the three can never name a variable the function does not read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class FunctionEnvironment(BaseModel):
    # Fields by name when the settings are built (CDK, local stack); by alias when read from the
    # environment. Unknown variables (the runtime's own, AWS_*) are ignored.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @classmethod
    def variable_names(cls) -> set[str]:
        return {field.alias or name for name, field in cls.model_fields.items()}

    @classmethod
    def only_ours(cls, environ: Mapping[str, str]) -> dict[str, str]:
        """This model's variables of ``environ`` (empty ones left out, so defaults apply).

        Only these are validated: an error must never quote the rest of the environment (the
        Lambda runtime keeps session credentials there).
        """
        names = cls.variable_names()
        return {name: value for name, value in environ.items() if name in names and value}

    @classmethod
    def from_variables(cls, environ: Mapping[str, str]) -> Self:
        return cls.model_validate(cls.only_ours(environ))

    def to_environment(self) -> dict[str, str]:
        """The variables that give a function these settings; defaults left to the code, None left out."""
        values: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
        return {name: _render(value) for name, value in values.items()}


def _render(value: Any) -> str:
    # 60.0 is written "60", as an operator would write it; both read back as the same number.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
