"""Request validation against LINE's official OpenAPI documents.

The specs are OpenAPI 3.0: JSON Schema draft 4 plus ``nullable`` and
``discriminator``.  LINE's documents model polymorphism as a base schema with a
``discriminator`` mapping (``Message`` -> ``TextMessage``...) whose subtypes
extend the base through ``allOf``.  Validating that naively recurses forever
(base -> subtype -> base...), so before validation the spec is rewritten:

* every base schema ``X`` with a discriminator gets a copy ``X__base`` without
  it, and the subtypes' ``allOf`` references to ``X`` point at ``X__base``;
* ``discriminator`` becomes a custom keyword that picks the mapped subtype from
  the object's property (unknown values are errors when ``strict``);
* ``nullable: true`` widens ``type`` to admit ``null``.

Everything else is checked by the ``jsonschema`` package.  Errors are reported
the way LINE does: ``{"message": "...", "property": "messages[0].text"}``.
"""
from __future__ import annotations

import copy
import os
import re
from functools import lru_cache
from pathlib import Path

import yaml
from jsonschema import Draft4Validator, ValidationError, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_DIR_ENV = "LINE_SPEC_DIR"
_BASE = "__base"
_REF_PREFIX = "#/components/schemas/"
_REQUIRED = re.compile(r"^'(.+)' is a required property$")


BUNDLED_SPEC_DIR = Path(__file__).resolve().parent / "spec"


def spec_dir() -> Path:
    """Where LINE's specs live: $LINE_SPEC_DIR, else the copies shipped in line_sandbox/spec/."""
    if os.environ.get(SPEC_DIR_ENV):
        return Path(os.environ[SPEC_DIR_ENV])
    return BUNDLED_SPEC_DIR


def property_path(parts) -> str:
    """["messages", 0, "text"] -> "messages[0].text" (LINE's notation)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node, visit):
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def _nullable(node: dict) -> None:
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]


def prepare(spec: dict) -> dict:
    """A copy of an OpenAPI document that plain draft-4 validation can use."""
    spec = copy.deepcopy(spec)
    schemas = spec.get("components", {}).get("schemas", {})
    _walk(schemas, _nullable)
    for name, schema in list(schemas.items()):
        if "discriminator" not in schema:
            continue
        schemas[name + _BASE] = {k: v for k, v in schema.items() if k != "discriminator"}
        for target_ref in schema["discriminator"].get("mapping", {}).values():
            target = schemas.get(target_ref.removeprefix(_REF_PREFIX), {})
            for part in target.get("allOf", []):
                if part.get("$ref") == _REF_PREFIX + name:
                    part["$ref"] = _REF_PREFIX + name + _BASE
    return spec


def _line_message(error: ValidationError) -> str:
    """jsonschema's wording turned into LINE's."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "required":
        return "must be specified"
    if kind in ("maxLength", "minLength"):
        return f"Length must be between {schema.get('minLength', 0)} and {schema.get('maxLength', 'unlimited')}"
    if kind in ("maxItems", "minItems"):
        return f"Size must be between {schema.get('minItems', 0)} and {schema.get('maxItems', 'unlimited')}"
    if kind == "maximum":
        return f"must be less than or equal to {schema['maximum']}"
    if kind == "minimum":
        return f"must be greater than or equal to {schema['minimum']}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, schema['enum']))}"
    if kind == "type":
        return f"The value must be of type {error.validator_value}"
    return error.message


def error_details(errors) -> list[dict]:
    """LINE's "details" list for a set of jsonschema errors (deduplicated, ordered)."""
    details, seen = [], set()
    for error in errors:
        parts = list(error.absolute_path)
        if error.validator == "required":
            match = _REQUIRED.match(error.message)
            if match:
                parts.append(match.group(1))
        detail = (_line_message(error), property_path(parts))
        if detail not in seen:
            seen.add(detail)
            details.append({"message": detail[0], "property": detail[1]})
    return sorted(details, key=lambda d: d["property"])


class SpecValidator:
    """Validates JSON values against the component schemas of one OpenAPI document."""

    def __init__(self, spec: dict, uri: str, strict_discriminator: bool = True):
        self.spec = prepare(spec)
        self.uri = uri
        resource = Resource(contents=self.spec, specification=DRAFT4)
        self.registry = Registry().with_resource(uri, resource)
        self._validator_class = validators.extend(
            Draft4Validator, {"discriminator": self._discriminator(strict_discriminator)}
        )
        self._operations = self._index_operations()

    @staticmethod
    def _discriminator(strict: bool):
        def check(validator, discriminator, instance, schema):
            if not validator.is_type(instance, "object"):
                return
            prop = discriminator["propertyName"]
            if prop not in instance:
                return  # "required" reports it
            target = discriminator.get("mapping", {}).get(instance[prop])
            if target is not None:
                yield from validator.descend(instance, {"$ref": target})
            elif strict:
                yield ValidationError(
                    f"Invalid {prop}: {instance[prop]!r}", validator="discriminator", path=[prop]
                )

        return check

    def validator_for(self, schema: dict):
        return self._validator_class(schema, registry=self.registry)

    def errors(self, schema: dict | str, instance) -> list[dict]:
        """LINE-style details for ``instance`` against a schema or a component name."""
        if isinstance(schema, str):
            schema = {"$ref": f"{self.uri}{_REF_PREFIX}{schema}"}
        elif "$ref" in schema and schema["$ref"].startswith("#"):
            schema = {"$ref": self.uri + schema["$ref"]}
        return error_details(self.validator_for(schema).iter_errors(instance))

    # -- operations --------------------------------------------------------
    def _index_operations(self):
        index = []
        for template, item in self.spec.get("paths", {}).items():
            params = template.count("{")
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, operation in item.items():
                if isinstance(operation, dict) and method != "parameters":
                    index.append((params, pattern, method.upper(), template, operation))
        index.sort(key=lambda row: row[0])  # literal paths win over templated ones
        return index

    def operation(self, method: str, path: str):
        """(path template, operation) of the spec for a concrete request, or None."""
        for _params, pattern, op_method, template, operation in self._operations:
            if op_method == method.upper() and pattern.match(path):
                return template, operation
        return None

    def request_schema(self, method: str, path: str) -> dict | None:
        found = self.operation(method, path)
        if not found:
            return None
        content = found[1].get("requestBody", {}).get("content", {})
        media = content.get("application/json")
        return media.get("schema") if media else None

    def request_errors(self, method: str, path: str, body) -> list[dict]:
        """LINE-style details for a request body; [] when valid or not JSON-bodied."""
        schema = self.request_schema(method, path)
        if schema is None:
            return []
        return self.errors(schema, body)


@lru_cache(maxsize=8)
def load_spec(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@lru_cache(maxsize=8)
def validator_for_file(path: str, strict_discriminator: bool = True) -> SpecValidator:
    """A (cached) validator for one spec file, e.g. messaging-api.yml."""
    name = Path(path).stem
    return SpecValidator(load_spec(path), f"urn:line-openapi:{name}", strict_discriminator)
