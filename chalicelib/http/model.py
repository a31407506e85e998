"""The wire, driven by the same botocore model the clients are generated from.

Parsing, constraint checks and serialisation read the shapes of
``ebs/2019-11-02`` instead of restating them, so the server validates exactly
what the model declares: every ``required``, ``min``, ``max``, ``pattern``
and ``enum``, which botocore only partly checks and the JS SDK not at all.
Violations produce the Coral framework message AWS sends (lower-case
``message``, no ``Reason``). Where the live service is known to differ from
the model, :data:`SERVICE_OVERRIDES` says so and why.

Parsing and serialisation share the walk over the model's shapes, which is
why they are one module a little over the usual size.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from botocore.loaders import Loader

from .errors import ConstraintViolation, SerializationError

# Real block and page tokens use URL-safe base64, and the service's own
# validator accepts ``_`` and ``-`` (seen in a Coral message, spec §a.2).
_TOKEN_PATTERN = r"^[A-Za-z0-9+/=_-]+$"
# The range of the model's number types (Java's int and long behind Coral).
_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# What _convert returns for a value of the wrong type: its violation is
# already recorded, so _check must not add "must not be null" for it too.
_INVALID = object()
# On PutSnapshotBlock an unknown algorithm reaches the service check and gets a
# Reason (spec §c.2, "put-algorithm-invalid"), unlike CompleteSnapshot.
SERVICE_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("GetSnapshotBlockRequest", "BlockToken"): {"pattern": _TOKEN_PATTERN},
    ("ListSnapshotBlocksRequest", "NextToken"): {"pattern": _TOKEN_PATTERN},
    ("ListChangedBlocksRequest", "NextToken"): {"pattern": _TOKEN_PATTERN},
    ("ListSnapshotChecksumsRequest", "NextToken"): {"pattern": _TOKEN_PATTERN},
    ("ListSnapshotWritesRequest", "NextToken"): {"pattern": _TOKEN_PATTERN},
    ("PutSnapshotBlockRequest", "ChecksumAlgorithm"): {"enum": None},
}


EXTENSIONS_MODEL = Path(__file__).with_name("models") / "blocksnap-extensions.json"


@lru_cache(maxsize=1)
def service_model() -> dict:
    """The EBS direct APIs' model, as botocore ships it."""
    return Loader().load_service_model("ebs", "service-2")


@lru_cache(maxsize=1)
def wire_model() -> dict:
    """Every operation this wire serves: the EBS model with blocksnap's extension model laid over it.

    The extensions are written in the same service-2 format and may use the
    EBS shapes by name, so an extension route is parsed, checked and
    serialised by the same code, with the same Coral messages, as an EBS one.
    A shape defined in both adds the extension's members (StartSnapshot's
    sub-block size header).
    """
    ebs = service_model()
    extensions = json.loads(EXTENSIONS_MODEL.read_text())
    shapes = {name: dict(shape) for name, shape in ebs["shapes"].items()}
    for name, shape in extensions["shapes"].items():
        if name in shapes:
            shapes[name]["members"] = {**shapes[name]["members"], **shape["members"]}
        else:
            shapes[name] = shape
    return {"operations": {**ebs["operations"], **extensions["operations"]}, "shapes": shapes}


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    uri: str
    status: int
    input_shape: str
    output_shape: str


@lru_cache(maxsize=None)
def operation(name: str) -> Operation:
    op = wire_model()["operations"][name]
    return Operation(
        name=name,
        method=op["http"]["method"],
        uri=op["http"]["requestUri"],
        status=op["http"].get("responseCode", 200),
        input_shape=op["input"]["shape"],
        output_shape=op["output"]["shape"],
    )


def _shape(name: str) -> dict:
    return wire_model()["shapes"][name]


def _wire_name(member: str) -> str:
    return member[:1].lower() + member[1:]


@dataclass(frozen=True)
class RawRequest:
    """What a request carried, independent of Chalice or WSGI."""

    uri_params: Mapping[str, str]
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


class _Violations:
    def __init__(self) -> None:
        self.items: list[tuple[str, object, str]] = []

    def add(self, member: str, value: object, constraint: str) -> None:
        self.items.append((member, value, constraint))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConstraintViolation.many(self.items)


def parse(op_name: str, raw: RawRequest) -> dict:
    """Typed, validated input members of ``op_name`` (model member names)."""
    shape_name = operation(op_name).input_shape
    shape = _shape(shape_name)
    body_members: dict = {}
    has_json_body = any("location" not in m and m["shape"] != shape.get("payload") for m in shape["members"].values())
    if has_json_body and raw.body:
        try:
            body_members = json.loads(raw.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise SerializationError("The request body is not valid JSON") from None
        if not isinstance(body_members, dict):
            raise SerializationError("The request body must be a JSON object")
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    violations = _Violations()
    for member, ref in shape["members"].items():
        location = ref.get("location")
        wire = ref.get("locationName", member)
        if location == "uri":
            value = raw.uri_params.get(wire)
        elif location == "header":
            value = header(raw.headers, wire)
        elif location == "querystring":
            value = raw.query.get(wire)
        elif member == shape.get("payload"):
            value = raw.body
        else:
            value = body_members.get(member)
        names[member] = _message_name(ref, member)
        values[member] = _convert(_shape(ref["shape"]), names[member], value, violations)
    for member, ref in shape["members"].items():
        constraints = dict(_shape(ref["shape"]))
        constraints.update(SERVICE_OVERRIDES.get((shape_name, member), {}))
        required = member in shape.get("required", ())
        _check(names[member], values[member], constraints, required, violations)
    violations.raise_if_any()
    return {k: v for k, v in values.items() if v is not None}


def _message_name(ref: Mapping[str, Any], member: str) -> str:
    """How a violation names a member: a query parameter by its wire name
    (``pageToken`` for NextToken), anything else by its lower-camel member name."""
    if ref.get("location") == "querystring":
        return ref["locationName"]
    return _wire_name(member)


def header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _convert(shape: dict, wire: str, value: Any, violations: _Violations) -> Any:
    """The value as the member's type, or _INVALID with its violation recorded."""
    if value is None:
        return None
    kind = shape["type"]
    if kind in ("integer", "long"):
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            number = whole_number(value)
        low, high = _RANGES[kind]
        if number is not None and low <= number <= high:
            return number
        return _invalid(wire, value, "Member must be a number", violations)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _invalid(wire, value, "Member must be a boolean", violations)
    if kind == "string":
        if not isinstance(value, str):
            return _invalid(wire, value, "Member must be a string", violations)
        return value
    if kind == "list":
        if not isinstance(value, list):
            return _invalid(wire, value, "Member must be a list", violations)
        item_shape = _shape(shape["member"]["shape"])
        return [_convert(item_shape, wire, item, violations) for item in value]
    if kind == "structure":
        if not isinstance(value, dict):
            return _invalid(wire, value, "Member must be a structure", violations)
        out = {}
        for name, ref in shape["members"].items():
            if name in value:
                out[name] = _convert(_shape(ref["shape"]), _wire_name(name), value[name], violations)
        return out
    return value


def whole_number(text: str) -> int | None:
    """The integer ``text`` spells in ASCII digits (an optional ``-``), else None.

    Nothing around the digits is stripped: ``…/blocks/1%0a`` is not block 1.
    More digits than a long holds are None too, before ``int`` would meet
    Python's 4,300-digit limit (a ValueError) on a client's number.
    """
    if not re.fullmatch(r"-?[0-9]{1,19}", text):
        return None
    return int(text)


def _invalid(wire: str, value: Any, constraint: str, violations: _Violations) -> object:
    violations.add(wire, value, constraint)
    return _INVALID


def _check(wire: str, value: Any, c: Mapping[str, Any], required: bool, violations: _Violations) -> None:
    if value is _INVALID:
        return
    if value is None:
        if required:
            violations.add(wire, None, "Member must not be null")
        return
    kind = c["type"]
    if kind in ("integer", "long"):
        if "min" in c and value < c["min"]:
            violations.add(wire, value, f"Member must have value greater than or equal to {c['min']}")
        if "max" in c and value > c["max"]:
            violations.add(wire, value, f"Member must have value less than or equal to {c['max']}")
    elif kind == "string":
        if "min" in c and len(value) < c["min"]:
            violations.add(wire, value, f"Member must have length greater than or equal to {c['min']}")
        if "max" in c and len(value) > c["max"]:
            violations.add(wire, value, f"Member must have length less than or equal to {c['max']}")
        if c.get("pattern") and not re.fullmatch(c["pattern"], value):
            violations.add(wire, value, f"Member must satisfy regular expression pattern: {c['pattern']}")
        if c.get("enum") and value not in c["enum"]:
            violations.add(wire, value, f"Member must satisfy enum value set: [{', '.join(c['enum'])}]")
    elif kind == "list":
        item_shape = _shape(c["member"]["shape"])
        for item in value:
            _check(wire, item, item_shape, False, violations)
    elif kind == "structure":
        for name, ref in c["members"].items():
            required = name in c.get("required", ())
            _check(_wire_name(name), value.get(name), _shape(ref["shape"]), required, violations)


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def serialize(op_name: str, output: Mapping[str, Any]) -> WireResponse:
    """Headers for header-bound members, the blob payload raw, everything else JSON.

    Absent members are sent as explicit ``null`` and timestamps as epoch
    numbers, as AWS does; the JS SDK rejects ISO strings.
    """
    op = operation(op_name)
    shape = _shape(op.output_shape)
    headers: dict[str, str] = {}
    payload_member = shape.get("payload")
    document: dict[str, Any] = {}
    for member, ref in shape["members"].items():
        value = output.get(member)
        if ref.get("location") == "header":
            if value is not None:
                headers[ref["locationName"]] = str(value)
        elif member != payload_member:
            document[member] = _to_wire(_shape(ref["shape"]), value)
    if payload_member is not None:
        headers["Content-Type"] = "application/octet-stream"
        return WireResponse(op.status, headers, bytes(output.get(payload_member) or b""))
    if op.status == 204:  # No Content: a body would break HTTP/1.1 framing
        return WireResponse(op.status, headers, b"")
    headers["Content-Type"] = "application/json"
    return WireResponse(op.status, headers, json.dumps(document, separators=(",", ":")).encode())


def _to_wire(shape: dict, value: Any) -> Any:
    if value is None:
        return None
    kind = shape["type"]
    if kind == "structure":
        return {name: _to_wire(_shape(ref["shape"]), value.get(name)) for name, ref in shape["members"].items()}
    if kind == "list":
        item_shape = _shape(shape["member"]["shape"])
        return [_to_wire(item_shape, item) for item in value]
    return value
