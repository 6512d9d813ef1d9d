"""schema.py: OpenAPI 3.0 (discriminators, nullable) validated with jsonschema."""
from pathlib import Path

import pytest

from line_sandbox.schema import (
    SpecValidator,
    load_spec,
    prepare,
    property_path,
    spec_dir,
    validator_for_file,
)

SPEC = {
    "paths": {"/things/{id}": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Shape"}}}}}},
              "/things/list": {"post": {}}},
    "components": {"schemas": {
        "Shape": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}},
                  "discriminator": {"propertyName": "type", "mapping": {
                      "circle": "#/components/schemas/Circle", "box": "#/components/schemas/Box"}}},
        "Circle": {"allOf": [{"$ref": "#/components/schemas/Shape"},
                             {"type": "object", "required": ["radius"], "properties": {"radius": {"type": "number"}}}]},
        "Box": {"allOf": [{"$ref": "#/components/schemas/Shape"}, {"type": "object", "properties": {
            "children": {"type": "array", "maxItems": 2, "items": {"$ref": "#/components/schemas/Shape"}},
            "label": {"type": "string", "nullable": True, "maxLength": 3}}}]},
    }},
}


@pytest.fixture(scope="module")
def validator():
    return SpecValidator(SPEC, "urn:test:shapes")


def test_discriminator_picks_the_mapped_schema_without_recursing(validator):
    assert validator.errors("Shape", {"type": "circle", "radius": 2}) == []
    assert validator.errors("Shape", {"type": "circle"}) == [{"message": "must be specified", "property": "radius"}]
    nested = {"type": "box", "children": [{"type": "box", "children": [{"type": "circle"}]}]}
    assert validator.errors("Shape", nested) == [
        {"message": "must be specified", "property": "children[0].children[0].radius"}]
    assert validator.errors("Shape", {"type": "star"}) == [{"message": "Invalid type: 'star'", "property": "type"}]
    lenient = SpecValidator(SPEC, "urn:test:lenient", strict_discriminator=False)
    assert lenient.errors("Shape", {"type": "star"}) == []


def test_nullable_and_limits(validator):
    assert validator.errors("Box", {"type": "box", "label": None}) == []
    assert validator.errors("Box", {"type": "box", "label": "long", "children": [{"type": "circle", "radius": 1}] * 3}) == [
        {"message": "Size must be between 0 and 2", "property": "children"},
        {"message": "Length must be between 0 and 3", "property": "label"}]
    assert "Shape__base" in prepare(SPEC)["components"]["schemas"]
    assert "discriminator" in SPEC["components"]["schemas"]["Shape"]  # the original is not modified


def test_operations_prefer_literal_paths(validator):
    assert validator.operation("POST", "/things/list")[0] == "/things/list"
    assert validator.operation("POST", "/things/42")[0] == "/things/{id}"
    assert validator.operation("GET", "/things/42") is None
    assert validator.request_errors("POST", "/things/42", {"type": "circle"})[0]["property"] == "radius"
    assert validator.request_errors("POST", "/things/list", {"anything": 1}) == []


def test_property_paths_are_written_like_line():
    assert property_path(["messages", 0, "contents", "body", "contents", 12, "action"]) == \
        "messages[0].contents.body.contents[12].action"
    assert property_path([]) == ""


def test_spec_dir_is_inside_the_package_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("LINE_SPEC_DIR", raising=False)
    bundled = Path(__file__).resolve().parents[2] / "line_sandbox" / "spec"
    assert spec_dir() == bundled
    for name in ("messaging-api.yml", "webhook.yml", "webhook-samples.json", "SOURCES",
                 "LICENSE-line-openapi", "LICENSE-line-bot-sdk-python"):
        assert (bundled / name).is_file(), name
    monkeypatch.setenv("LINE_SPEC_DIR", str(tmp_path))
    assert spec_dir() == tmp_path


def test_a_missing_spec_names_the_variable_to_set(monkeypatch, tmp_path):
    from line_sandbox import SpecMissing, create_app

    with pytest.raises(SpecMissing, match="LINE_SPEC_DIR"):
        create_app(spec_directory=tmp_path)


def test_the_real_specs_examples_and_sdk_shapes_validate(line_spec_dir):
    messaging = validator_for_file(str(line_spec_dir / "messaging-api.yml"))
    spec = load_spec(str(line_spec_dir / "messaging-api.yml"))
    checked = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            media = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {}) \
                if isinstance(operation, dict) else {}
            examples = [e["value"] for e in (media.get("examples") or {}).values()]
            examples += [media["example"]] if "example" in media else []
            for example in examples:
                assert messaging.request_errors(method, path, example) == [], (method, path)
                checked += 1
    assert messaging.request_errors("post", "/v2/bot/message/push", {"to": "U" + "0" * 32, "messages": [
        {"type": "textV2", "text": "{name}さん", "substitution": {"name": {"type": "mention", "mentionee": {
            "type": "user", "userId": "U" + "0" * 32}}}}]}) == []
    assert checked >= 2  # markAsRead's examples
