"""JSON Schema → the OpenAPI subset Gemini's ``Schema`` accepts (tool parameters, responseSchema).

Gemini rejects JSON-Schema keywords outside its subset with 400 ``Invalid JSON payload
received. Unknown name …`` (providers.md pitfall 17: ``$schema``, ``additionalProperties``,
``const``, ``propertyNames``, ``exclusiveMinimum`` …). OpenAI tool schemas routinely carry
them (strict mode requires ``additionalProperties: false``), so every schema sent to Gemini
passes through ``sanitize``: keywords Gemini knows are kept, ``const`` becomes a one-value
``enum`` (of strings, as Gemini's enums are), a type list with ``"null"`` becomes
``nullable``, local ``$ref``s are inlined, and everything else is dropped. Pure.
"""

from __future__ import annotations

# The fields of google.genai.types.Schema (python-genai ``types.py``), camelCase on the wire.
KEPT = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum",
    "maximum",
})
_MAX_DEPTH = 32  # a recursive $ref is cut here rather than expanded forever


def sanitize(schema: object, *, defs: dict | None = None, depth: int = 0) -> dict:
    """A copy of ``schema`` that Gemini accepts. See the module docstring."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return {}
    if defs is None:
        defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target = defs.get(ref.rsplit("/", 1)[-1])
        merged = {**(target or {}), **{k: v for k, v in schema.items() if k != "$ref"}}
        return sanitize(merged, defs=defs, depth=depth + 1)
    out: dict = {}
    if "const" in schema and "enum" not in schema:
        schema = {**schema, "enum": [schema["const"]]}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            if len(kinds) < len(value):
                out["nullable"] = True
            if len(kinds) == 1:
                out["type"] = kinds[0]
            elif kinds:
                out["anyOf"] = [{"type": k} for k in kinds]
        elif key == "oneOf" and isinstance(value, list):
            out["anyOf"] = [sanitize(v, defs=defs, depth=depth + 1) for v in value]
        elif key not in KEPT:
            continue
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: sanitize(v, defs=defs, depth=depth + 1) for name, v in value.items()}
        elif key == "items":
            out[key] = sanitize(value, defs=defs, depth=depth + 1)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [sanitize(v, defs=defs, depth=depth + 1) for v in value]
        else:
            out[key] = value
    if "enum" in out:
        # Gemini enums are strings of a STRING schema; on other types the keyword goes.
        if out.get("type", "string") == "string" and isinstance(out["enum"], list):
            out["enum"] = [str(v) for v in out["enum"]]
            out["type"] = "string"
        else:
            del out["enum"]
    return out
