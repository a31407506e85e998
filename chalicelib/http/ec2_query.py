"""The EC2 Query protocol, driven by botocore's ``ec2/2016-11-15`` model as the EBS wire is by its own.

**Requests** are form-encoded pairs (``POST /`` body, or a GET query string,
which AWS also takes). A member goes by its ``queryName``, else its
``locationName`` with the first letter upper-cased, else its own name, which
is what botocore's ``EC2Serializer`` sends (``SnapshotIds`` → ``SnapshotId.N``,
``DryRun`` → ``DryRun``); every list is flattened as ``<name>.<n>`` from 1
whatever its member's ``locationName``, nested members joined with ``.``
(``Filter.1.Value.2``, ``TagSpecification.1.Tag.1.Key``). Values are typed
and checked by the model: ``required``, integers, booleans, enums. A
parameter the operation does not have is refused (AWS ``UnknownParameter``),
except the envelope and query-string signing parameters.

**Responses** are ``<{Op}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">``
with ``requestId`` first and the output members directly under it, each
named by its ``locationName``; lists as one ``<item>`` per entry; booleans
``true``/``false``; timestamps with milliseconds and ``Z``; absent members
omitted. Operations with no output answer ``<return>true</return>``, as AWS
does (botocore reads only ``requestId``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Mapping
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.loaders import Loader

from ..domain.errors import ValidationError
from .errors import MissingParameter, SerializationError, UnknownParameter
from ..domain.filters import iso_time

VERSION = "2016-11-15"
NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
CONTENT_TYPE = "text/xml;charset=UTF-8"
# Parameters of every request rather than of an operation: the envelope, and
# SigV2/SigV4 query-string signing (a presigned GET carries them).
_ENVELOPE = re.compile(r"Action|Version|X-Amz-[A-Za-z-]+|AWSAccessKeyId|Signature(Method|Version)?|Timestamp|Expires")
_INTEGER = re.compile(r"-?[0-9]+")
# Characters XML 1.0 cannot carry even as references (control characters, lone
# surrogates): botocore's parser rejects the whole response if one appears.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Escaped text, with what XML cannot carry (only echoed input, such as a bad value) as U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", text))


@lru_cache(maxsize=1)
def service_model() -> dict:
    return Loader().load_service_model("ec2", "service-2")


def _shape(name: str) -> dict:
    return service_model()["shapes"][name]


def has_operation(action: str) -> bool:
    return action in service_model()["operations"]


def form(body: bytes) -> dict[str, str]:
    """The pairs of a form-encoded body (or query string); a name given twice is refused."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise SerializationError("The request body is not UTF-8 form data") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise ValidationError(f"The parameter {name} is given more than once")
        params[name] = value
    return params


def _query_name(ref: Mapping[str, Any], member: str) -> str:
    if "queryName" in ref:
        return ref["queryName"]
    if "locationName" in ref:
        name = ref["locationName"]
        return name[:1].upper() + name[1:]
    return member


def parse(action: str, params: Mapping[str, str]) -> dict:
    """The typed input members of ``action`` (model member names), absent members left out."""
    op = service_model()["operations"][action]
    if "input" not in op:
        return {}
    used: set[str] = set()
    members = _read_structure(_shape(op["input"]["shape"]), "", params, used)
    for name in params:
        if name not in used and not _ENVELOPE.fullmatch(name):
            raise UnknownParameter(name)
    return members


def _read_structure(shape: dict, prefix: str, params: Mapping[str, str], used: set[str]) -> dict:
    out = {}
    for member, ref in shape["members"].items():
        name = prefix + _query_name(ref, member)
        value = _read(_shape(ref["shape"]), name, params, used)
        if value is not None:
            out[member] = value
        elif member in shape.get("required", ()):
            raise MissingParameter(name)
    return out


def _read(shape: dict, name: str, params: Mapping[str, str], used: set[str]) -> Any:
    kind = shape["type"]
    if kind == "structure":
        if not any(k.startswith(name + ".") for k in params):
            return None
        return _read_structure(shape, name + ".", params, used)
    if kind == "list":
        element = re.compile(re.escape(name) + r"\.([0-9]+)(?:\.|$)")
        indices = sorted({int(m.group(1)) for k in params if (m := element.match(k))})
        if not indices:
            return None
        item = _shape(shape["member"]["shape"])
        return [_read(item, f"{name}.{i}", params, used) for i in indices]
    if name not in params:
        return None
    used.add(name)
    return _scalar(shape, name, params[name])


def _scalar(shape: dict, name: str, text: str) -> Any:
    kind = shape["type"]
    if kind in ("integer", "long"):
        if not _INTEGER.fullmatch(text.strip()):
            raise ValidationError(f"Invalid value '{text}' for {name}")
        return int(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValidationError(f"Invalid value '{text}' for {name}: expected true or false")
        return text.lower() == "true"
    if kind == "timestamp":
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()
        except ValueError:
            raise ValidationError(f"Invalid value '{text}' for {name}: expected an ISO 8601 time") from None
    if shape.get("enum") and text not in shape["enum"]:
        expected = ", ".join(shape["enum"])
        raise ValidationError(f"Value ({text}) for parameter {name} is invalid. Expected one of: {expected}")
    return text


def serialize(action: str, output: Mapping[str, Any] | None, request_id: str) -> bytes:
    """The success body of ``action``: its output members, or ``<return>true</return>`` when it has none."""
    op = service_model()["operations"][action]
    parts = [XML_DECLARATION, f'<{action}Response xmlns="{NAMESPACE}">', f"<requestId>{_xml(request_id)}</requestId>"]
    if "output" in op:
        _write_members(_shape(op["output"]["shape"]), output or {}, parts)
    else:
        parts.append("<return>true</return>")
    parts.append(f"</{action}Response>")
    return "".join(parts).encode("utf-8")


def _write_members(shape: dict, value: Mapping[str, Any], parts: list[str]) -> None:
    for member, ref in shape["members"].items():
        if value.get(member) is not None:
            tag = ref.get("locationName", member)
            parts.append(f"<{tag}>")
            _write(_shape(ref["shape"]), value[member], parts)
            parts.append(f"</{tag}>")


def _write(shape: dict, value: Any, parts: list[str]) -> None:
    kind = shape["type"]
    if kind == "structure":
        _write_members(shape, value, parts)
    elif kind == "list":
        tag = shape["member"].get("locationName", "item")
        item = _shape(shape["member"]["shape"])
        for entry in value:
            parts.append(f"<{tag}>")
            _write(item, entry, parts)
            parts.append(f"</{tag}>")
    elif kind == "boolean":
        parts.append("true" if value else "false")
    elif kind == "timestamp":
        parts.append(iso_time(value))
    else:
        parts.append(_xml(str(value)))


def error_body(code: str, message: str, request_id: str) -> bytes:
    """AWS's error envelope: no namespace, ``RequestID`` (not ``requestId``), one ``Error``."""
    return (
        f"{XML_DECLARATION}<Response><Errors><Error><Code>{_xml(code)}</Code>"
        f"<Message>{_xml(message)}</Message></Error></Errors>"
        f"<RequestID>{_xml(request_id)}</RequestID></Response>"
    ).encode("utf-8")
