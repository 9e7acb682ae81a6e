"""Schema-valid content for the fake Responses API, derived deterministically from the request.

The fake does not write like a model; it fills each property of the requested JSON schema with a
short text built from facts found in the input (first name, company, job role, representative,
first point to clarify), so the same request always gets the same answer and the answer reads
plausibly in an outbox.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_JSON_PAIR = re.compile(r'"([A-Za-z][\w ]*)"\s*:\s*"([^"\\]*)"')
_LINE_PAIR = re.compile(r"^\s*[-*]?\s*([A-Za-z][\w ]*?)\s*[:=]\s*(.+?)\s*$", re.MULTILINE)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class Facts:
    first_name: str = "there"
    company: str = "our team"
    role: str = "your application"
    rep: str = "the team"
    point: str = "a few details need confirming"

    @classmethod
    def from_text(cls, text: str) -> Facts:
        pairs: dict[str, str] = {}
        for chunk in _json_chunks(text):
            _walk(chunk, pairs)
        for pattern in (_JSON_PAIR, _LINE_PAIR):
            for name, value in pattern.findall(text):
                pairs.setdefault(_key(name), value.strip().strip('",'))

        def find(*suffixes: str) -> str | None:
            for suffix in suffixes:
                for name, value in pairs.items():
                    if name.endswith(suffix) and value:
                        return value
            return None

        found = {
            "first_name": find("recipientfirstname", "firstname"),
            "company": find("companyname", "company"),
            "role": find("jobrole", "jobtitle", "role", "position", "projectname"),
            "rep": find("companyrep1", "companyrep", "representative", "representatives", "repname"),
            "point": find("point", "clarificationpoint"),
        }
        return cls(**{name: value for name, value in found.items() if value})

    def text_for(self, name: str, description: str) -> str:
        """A short text for one property, chosen by its name and description."""
        about = f"{name} {description}".lower()
        if "first name" in about or "firstname" in _key(about) or about.strip() == "1":
            return self.first_name
        if "rep" in about.split() or "representative" in about or "rep name" in about:
            return self.rep
        if "company" in about:
            return self.company
        if "role" in about or "job" in about or about.strip() == "2":
            return self.role
        if "subject" in about:
            return f"{self.role} at {self.company}: a quick question"
        if "body" in about or "message" in about:
            return (
                f"Hi {self.first_name}, this is {self.rep} from {self.company} about {self.role}. "
                f"{self.point} Could you tell us more when you have a moment?"
            )
        if about.strip() == "3":
            return self.rep
        return self.point


def _json_chunks(text: str) -> list[Any]:
    chunks = []
    for candidate in (text, *re.findall(r"\{.*\}", text, re.DOTALL)):
        try:
            chunks.append(json.loads(candidate))
        except ValueError:
            continue
    return chunks


def _walk(value: Any, pairs: dict[str, str], name: str = "") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(item, pairs, key)
    elif isinstance(value, list):
        for item in value:
            _walk(item, pairs, name)
    elif isinstance(value, str) and name:
        pairs.setdefault(_key(name), value)


def content_for(schema: dict[str, Any], facts: Facts) -> Any:
    """A value valid against ``schema`` (the subset strict structured output allows)."""
    return _Filler(schema, facts).fill(schema, name="", description="")


class _Filler:
    def __init__(self, root: dict[str, Any], facts: Facts) -> None:
        self.root, self.facts = root, facts

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if not ref:
            return schema
        target: Any = self.root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return self.resolve(target)

    def fill(self, schema: dict[str, Any], *, name: str, description: str) -> Any:
        schema = self.resolve(schema)
        description = schema.get("description", description)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for combinator in ("anyOf", "oneOf"):
            if schema.get(combinator):
                return self.fill(schema[combinator][0], name=name, description=description)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            return {
                prop: self.fill(sub, name=prop, description="") for prop, sub in schema.get("properties", {}).items()
            }
        if kind == "array":
            count = max(schema.get("minItems", 1), 0)
            return [self.fill(schema.get("items", {}), name=name, description=description) for _ in range(count)]
        if kind in ("integer", "number"):
            return schema.get("minimum", 1)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return fit(self.facts.text_for(name, description), schema)


def fit(text: str, schema: dict[str, Any]) -> str:
    maximum = schema.get("maxLength")
    if maximum is not None and len(text) > maximum:
        text = text[:maximum].rstrip() or text[:maximum]
    minimum = schema.get("minLength", 0)
    if len(text) < minimum:
        text = text + "." * (minimum - len(text))
    return text
