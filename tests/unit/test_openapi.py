"""docs/openapi.yaml: structurally valid OpenAPI 3, and in step with app.py and the botocore model.

Route parity is against the routes registered on the Chalice app; the EBS
operations are compared member by member with the botocore model the server
itself parses and serialises with, so the document cannot drift from the wire.
"""

import re
from pathlib import Path

import pytest
import yaml

from app import app
from chalicelib.domain import errors as e
from chalicelib.http import ec2_operations, model
from chalicelib.http import errors as wire_errors
from chalicelib.http.errors import error_response

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
EBS_OPERATIONS = sorted(model.service_model()["operations"])
# Every operation the wire serves: EBS's and blocksnap's extensions, one model.
OPERATIONS = sorted(model.wire_model()["operations"])



@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load(DOC_PATH.read_text())


def resolve(doc, ref):
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def deref(doc, node):
    """Follow $ref chains, and unwrap the single-element ``allOf`` used to describe a $ref."""
    while True:
        if "$ref" in node:
            node = resolve(doc, node["$ref"])
        elif list(node.get("allOf", ())) and len(node["allOf"]) == 1:
            node = {**deref(doc, node["allOf"][0]), **{k: v for k, v in node.items() if k != "allOf"}}
        else:
            return node


def documented_operations(doc):
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method.upper(), item[method], item


def parameters(doc, item, op):
    """The operation's parameters with path-level ones it does not override, dereferenced."""
    merged = {}
    for raw in list(item.get("parameters", ())) + list(op.get("parameters", ())):
        p = deref(doc, raw)
        merged[(p["in"], p["name"])] = p
    return merged


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def by_operation_id(doc):
    return {op["operationId"]: (path, method, op, item) for path, method, op, item in documented_operations(doc)}


def success(op):
    codes = [code for code in op["responses"] if str(code).startswith("2")]
    assert len(codes) == 1, codes
    return int(codes[0]), op["responses"][codes[0]]


# ---- structure -------------------------------------------------------------


def test_document_is_structurally_openapi_3(doc):
    assert str(doc["openapi"]).startswith("3.0.")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["paths"]
    ids = []
    for path, method, op, _ in documented_operations(doc):
        assert path.startswith("/")
        assert op.get("responses"), f"{method} {path} has no responses"
        for code, response in op["responses"].items():
            assert re.fullmatch(r"[1-5][0-9][0-9]|default", str(code)), (method, path, code)
            assert "description" in deref(doc, response)
        ids.append(op["operationId"])
    assert len(ids) == len(set(ids)), "operationIds are unique"


def test_every_ref_resolves(doc):
    refs = [node["$ref"] for node in walk(doc) if "$ref" in node]
    assert refs
    for ref in refs:
        resolve(doc, ref)


def test_path_templates_and_path_parameters_agree(doc):
    for path, method, op, item in documented_operations(doc):
        templated = set(re.findall(r"\{([^}]+)\}", path))
        declared = {name for (where, name), p in parameters(doc, item, op).items() if where == "path"}
        assert declared == templated, (method, path)
        for (where, name), p in parameters(doc, item, op).items():
            assert where in ("path", "query", "header"), (method, path, name)
            assert "schema" in p, (method, path, name)
            if where == "path":
                assert p["required"] is True, (method, path, name)


def test_every_response_carries_a_request_id_and_every_error_an_error_type(doc):
    for path, method, op, _ in documented_operations(doc):
        for code, raw in op["responses"].items():
            headers = deref(doc, raw).get("headers", {})
            assert "x-amzn-RequestId" in headers, (method, path, code)
            if path == "/":  # the EC2 Query protocol: XML bodies, the code inside them
                assert "text/xml" in deref(doc, raw)["content"], (method, path, code)
            elif int(code) >= 400:
                assert "x-amzn-ErrorType" in headers, (method, path, code)
                assert "application/json" in deref(doc, raw)["content"], (method, path, code)


# ---- route parity with app.py ----------------------------------------------


def routed():
    return {(method, path) for path, methods in app.routes.items() for method in methods}


def documented(doc):
    return {(method, path) for path, method, _, _ in documented_operations(doc)}


def test_every_route_in_app_is_documented(doc):
    assert routed() - documented(doc) == set()


def test_every_documented_route_exists_in_app(doc):
    assert documented(doc) - routed() == set()


# ---- the six EBS operations against the botocore model ----------------------

_IN = {"uri": "path", "querystring": "query", "header": "header"}
_CONSTRAINT_KEYS = ("minimum", "maximum", "minLength", "maxLength", "pattern", "enum")


def _shape(name):
    return model.wire_model()["shapes"][name]


def _expected_scalar(shape, overrides=None):
    """The OpenAPI schema keywords the model (plus the service's wider patterns) implies."""
    shape = {**shape, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    kind = shape["type"]
    if kind in ("integer", "long"):
        out = {"type": "integer", "format": "int32" if kind == "integer" else "int64"}
        for src, dst in (("min", "minimum"), ("max", "maximum")):
            if src in shape:
                out[dst] = shape[src]
    elif kind == "string":
        out = {"type": "string"}
        for src, dst in (("min", "minLength"), ("max", "maxLength"), ("pattern", "pattern"), ("enum", "enum")):
            if src in shape:
                out[dst] = shape[src]
    elif kind == "boolean":
        out = {"type": "boolean"}
    else:
        raise AssertionError(f"unexpected scalar shape {shape}")
    return out


def assert_request_schema(doc, schema, shape, where, overrides=None):
    """The documented request schema is exactly the model shape's members and constraints."""
    schema = deref(doc, schema)
    kind = shape["type"]
    if kind == "structure":
        assert schema["type"] == "object", where
        assert set(schema["properties"]) == set(shape["members"]), where
        assert set(schema.get("required", ())) == set(shape.get("required", ())), where
        for name, ref in shape["members"].items():
            assert_request_schema(doc, schema["properties"][name], _shape(ref["shape"]), f"{where}.{name}")
    elif kind == "list":
        assert schema["type"] == "array", where
        assert_request_schema(doc, schema["items"], _shape(shape["member"]["shape"]), f"{where}[]")
    else:
        expected = _expected_scalar(shape, overrides)
        got = {k: schema[k] for k in ("type", "format", *_CONSTRAINT_KEYS) if k in schema}
        if expected["type"] != "integer":
            got.pop("format", None)
        assert got == expected, where


def assert_response_schema(doc, schema, shape, where, member=True, nulls=True):
    """Every model member is present (required) and nullable; timestamps are numbers.

    blocksnap's own documents (``nulls=False``) say which members are never
    null, so only their shape is held to the model there.
    """
    schema = deref(doc, schema)
    if member and nulls:
        assert schema.get("nullable") is True, f"{where} must be nullable: AWS sends explicit nulls"
    kind = shape["type"]
    if kind == "structure":
        assert schema["type"] == "object", where
        assert set(schema["properties"]) == set(shape["members"]), where
        assert set(schema["required"]) == set(shape["members"]), where
        for name, ref in shape["members"].items():
            assert_response_schema(doc, schema["properties"][name], _shape(ref["shape"]), f"{where}.{name}", nulls=nulls)
    elif kind == "list":
        assert schema["type"] == "array", where
        assert_response_schema(
            doc, schema["items"], _shape(shape["member"]["shape"]), f"{where}[]", member=False, nulls=nulls
        )
    elif kind == "timestamp":
        assert schema["type"] == "number", f"{where}: timestamps are epoch numbers"
    else:
        assert schema["type"] == _expected_scalar(shape)["type"], where
        if "enum" in schema and schema.get("nullable"):
            assert None in schema["enum"], f"{where}: a nullable enum must list null (OpenAPI 3.0.3)"


@pytest.mark.parametrize("name", OPERATIONS)
def test_ebs_route_and_success_status_match_the_model(doc, name):
    op_model = model.wire_model()["operations"][name]
    assert name in by_operation_id(doc), f"{name} is not documented"
    path, method, op, _ = by_operation_id(doc)[name]
    assert (method, path) == (op_model["http"]["method"], op_model["http"]["requestUri"])
    status, _ = success(op)
    assert status == op_model["http"].get("responseCode", 200)


@pytest.mark.parametrize("name", OPERATIONS)
def test_ebs_parameters_match_the_model(doc, name):
    path, method, op, item = by_operation_id(doc)[name]
    input_name = model.operation(name).input_shape
    shape = _shape(input_name)
    documented_params = parameters(doc, item, op)
    expected = {
        (_IN[ref["location"]], ref["locationName"]): member
        for member, ref in shape["members"].items()
        if "location" in ref
    }
    assert set(documented_params) == set(expected)
    for key, member in expected.items():
        p = documented_params[key]
        assert p.get("required", False) == (member in shape.get("required", ())), key
        ref = shape["members"][member]
        overrides = model.SERVICE_OVERRIDES.get((input_name, member))
        assert_request_schema(doc, p["schema"], _shape(ref["shape"]), f"{name} {key}", overrides)


@pytest.mark.parametrize("name", OPERATIONS)
def test_ebs_bodies_match_the_model(doc, name):
    _, _, op, _ = by_operation_id(doc)[name]
    in_shape = _shape(model.operation(name).input_shape)
    payload = in_shape.get("payload")
    body_members = {m: ref for m, ref in in_shape["members"].items() if "location" not in ref and m != payload}
    if payload:
        assert list(op["requestBody"]["content"]) == ["application/octet-stream"]
        assert op["requestBody"]["required"] is True
    elif body_members:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        required = [m for m in in_shape.get("required", ()) if m in body_members]
        assert_request_schema(doc, schema, {**in_shape, "members": body_members, "required": required}, name)
    else:
        assert "requestBody" not in op

    out_shape = _shape(model.operation(name).output_shape)
    _, response = success(op)
    response = deref(doc, response)
    header_members = {ref["locationName"] for ref in out_shape["members"].values() if ref.get("location") == "header"}
    assert header_members <= set(response.get("headers", {}))
    out_payload = out_shape.get("payload")
    if model.operation(name).status == 204:
        assert "content" not in response, "204 No Content has no body"
        return
    if out_payload:
        assert list(response["content"]) == ["application/octet-stream"]
        return
    schema = deref(doc, response["content"]["application/json"]["schema"])
    json_members = {m: ref for m, ref in out_shape["members"].items() if "location" not in ref}
    if not json_members:
        assert schema.get("maxProperties") == 0 and not schema.get("properties"), "AWS sends {}"
        return
    assert set(schema["properties"]) == set(json_members)
    assert set(schema["required"]) == set(json_members), "every member is always sent, null when absent"
    for member, ref in json_members.items():
        assert_response_schema(
            doc, schema["properties"][member], _shape(ref["shape"]), f"{name}.{member}", nulls=name in EBS_OPERATIONS
        )


@pytest.mark.parametrize("name", EBS_OPERATIONS)
def test_ebs_error_statuses(doc, name):
    _, _, op, _ = by_operation_id(doc)[name]
    errors = {int(code) for code in op["responses"] if int(code) >= 400}
    modelled = {ref["shape"] for ref in model.service_model()["operations"][name]["errors"]}
    assert {400, 403, 404, 500} <= errors <= {400, 403, 404, 409, 500}
    assert (409 in errors) == ("ConflictException" in modelled)


# ---- error shapes against the server's one error table ----------------------

_SAMPLE_ERRORS = [
    wire_errors.ConstraintViolation("blockIndex", -1, "Member must have value greater than or equal to 0"),
    wire_errors.SerializationError("The request body is not valid JSON"),
    e.ValidationError("Failed to read block data"),
    e.InvalidBlock("Block index 2048 is beyond the volume size extent"),
    e.SnapshotNotFound("snap-0123"),
    e.ChecksumMismatch("AAAA", "BBBB"),
    e.IdempotencyConflict(),
    e.DependencyAccessDenied("The key is not accessible"),
    e.DependencyThrottled("The storage service is throttling requests: SlowDown"),
    e.CorruptData("block 1 failed its checksum on read"),
    e.MissingAuthentication(),
    e.IncompleteSignature("Authorization header requires 'Signature' parameter."),
    e.UnknownAccessKey(),
    e.SignatureMismatch(),
    e.RequestExpired("Signature expired: 20261204T000000Z is now earlier than …"),
    e.OperationDenied("BSKAAAAAAAAAAAAAAAAA", "ebs:StartSnapshot"),
    e.AccessKeyNotFound("BSKAAAAAAAAAAAAAAAAA"),
    RuntimeError("unexpected"),
]


@pytest.mark.parametrize("exc", _SAMPLE_ERRORS, ids=lambda x: type(x).__name__)
def test_every_error_the_server_sends_is_documented(doc, exc):
    import json

    status, headers, body = error_response(exc)
    payload = json.loads(body)
    pattern = deref(doc, doc["components"]["headers"]["ErrorType"])["schema"]["pattern"]
    assert re.search(pattern, headers["x-amzn-ErrorType"])
    candidates = []
    for path, _, op, _ in documented_operations(doc):
        raw = op["responses"].get(str(status))
        if raw is None or path == "/":  # the EC2 Query route has its own table, tested below
            continue
        schema = deref(doc, deref(doc, raw)["content"]["application/json"]["schema"])
        candidates += [deref(doc, s) for s in schema.get("oneOf", [schema])]
    assert candidates, f"no operation documents status {status}"

    def matches(schema):
        if not set(schema["required"]) <= set(payload) <= set(schema["properties"]):
            return False
        enum = schema["properties"].get("Reason", {}).get("enum")
        return enum is None or payload.get("Reason") in enum

    assert any(matches(s) for s in candidates), (status, payload)


def test_every_ec2_error_code_and_status_is_documented(doc):
    from chalicelib.http import ec2_errors

    described = deref(doc, doc["components"]["responses"]["Ec2Error"])["description"]
    _, _, op, _ = by_operation_id(doc)["Ec2Query"]
    for _, status, code in ec2_errors._TABLE:
        assert f"`{code}`" in described, code
        assert str(status) in op["responses"], (code, status)
    assert set(deref(doc, doc["components"]["schemas"]["Ec2QueryRequest"])["properties"]["Action"]["enum"]) == set(
        ec2_operations._HANDLERS)


# ---- blocksnap extensions ---------------------------------------------------


def test_sub_block_size_header_is_a_documented_extension(doc):
    p = doc["components"]["parameters"]["SubBlockSize"]
    ref = _shape("StartSnapshotRequest")["members"]["SubBlockSize"]
    assert p["name"] == ref["locationName"]
    assert p["x-blocksnap-extension"] is True
    assert "SubBlockSize" not in model.service_model()["shapes"]["StartSnapshotRequest"]["members"]


def test_sub_block_write_has_put_snapshot_block_members_plus_offset():
    put = _shape("PutSnapshotBlockRequest")["members"]
    sub = _shape("PutSnapshotSubBlockRequest")["members"]
    assert set(sub) == set(put) | {"Offset"}
    assert all(sub[name] == {k: v for k, v in put[name].items() if k != "documentation"} for name in put)
