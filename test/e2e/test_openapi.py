"""docs/openapi.yaml against the server, both ways.

1. Source -> spec: the routes registered in rest/src/*.cpp (`routes.get(...)`,
   `put`, `post`, `del` on the RouteTable, or cpp-httplib's `srv.Get(...)`, with a string literal, a raw string or a named
   constant) must be exactly the spec's operations; regex captures such as
   `([^/]+)` are matched by position against `{param}` in the spec's paths.
2. Spec -> live server: every operation in the spec has a scenario below that
   sends real requests (valid ones, bad parameters and bodies, no or wrong
   credentials, unknown names, nodes that do not serve the route) to real
   nodes; every answer's status must be one the spec lists for the operation,
   its Content-Type must match the spec's media type, its documented headers
   must be there, and its body must validate against the spec's schema
   (JSON for application/json, the string itself for text types). Integer
   query parameters are probed at and beyond the spec's bounds, and JSON
   request bodies are generated from the spec's request schema (wrong types,
   unknown fields, bad formats, too many items): the spec and the server must
   agree on what is accepted.

Nodes (all started for this module): `uw`, an agent with a label and users
(every route); `nolabel`, an agent without --label (no registration routes);
`gateway`, a standalone gateway forwarding to `uw`; `deadgw`, a gateway whose
only home agent does not listen (SERVFAIL, the agent unreachable -> 502).
"""
from __future__ import annotations

import base64
import json
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote

import jsonschema
import pytest
import yaml

from conftest import free_port
from registrar_fixtures import (HttpResult, Registrar, http_request,  # noqa: F401
                                raw_http_exchange, registrar_factory)
from store import DEVICES as STORE_DEVICES

REPO = Path(__file__).resolve().parents[2]
SPEC_FILE = REPO / "docs" / "openapi.yaml"
ROUTE_DIR = REPO / "rest" / "src"
CONSTANT_DIRS = (REPO / "rest" / "src", REPO / "rest" / "include")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Request headers that are not API parameters (security is checked separately).
TRANSPORT_HEADERS = {"authorization", "content-type", "content-length", "connection", "host",
                     "transfer-encoding"}
THROTTLE_ATTEMPTS = 15  # the server blocks a (source, user) after 10 failures
# Each throttling scenario guesses from a /24 of its own: failed logins are also
# counted per /24, and the other scenarios' single wrong passwords come from 127.0.0.x.


# ===========================================================================
# The spec
# ===========================================================================

def load_spec() -> dict:
    with open(SPEC_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def resolve_ref(spec: dict, node: Any) -> Any:
    """Follows local `$ref`s (bounded) to the object they name."""
    for _ in range(20):
        if not (isinstance(node, dict) and "$ref" in node):
            return node
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise AssertionError(f"only local $refs are supported: {ref}")
        cur = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(cur, dict) or part not in cur:
                raise AssertionError(f"$ref {ref} does not resolve")
            cur = cur[part]
        node = cur
    raise AssertionError(f"$ref chain too long at {node}")


# OpenAPI 3.0 schema keywords that JSON Schema does not know (or must not see).
OPENAPI_ONLY = {"nullable", "example", "examples", "discriminator", "readOnly", "writeOnly",
                "xml", "externalDocs", "deprecated"}


def to_json_schema(spec: dict, node: Any, depth: int = 0) -> Any:
    """An OpenAPI 3.0 schema object as a self-contained JSON Schema (draft 4):
    $refs inlined, `nullable: true` turned into a type list (and null added
    to an enum), OpenAPI-only keywords dropped."""
    if depth > 50:
        raise AssertionError("schema nested too deeply (a recursive $ref?)")
    if isinstance(node, list):
        return [to_json_schema(spec, n, depth + 1) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return to_json_schema(spec, resolve_ref(spec, node), depth + 1)
    out: Dict[str, Any] = {}
    for key, value in node.items():
        if key in OPENAPI_ONLY:
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(spec, s, depth + 1) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(spec, value, depth + 1)
        else:
            out[key] = value
    if node.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = types + ["null"]
            if "enum" in out:
                out["enum"] = list(out["enum"]) + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


try:
    FORMAT_CHECKER = jsonschema.Draft4Validator.FORMAT_CHECKER
except AttributeError:  # jsonschema < 4.14 (Debian 12 has 4.10)
    FORMAT_CHECKER = jsonschema.draft4_format_checker


def schema_errors(schema: dict, instance: Any) -> List[str]:
    v = jsonschema.Draft4Validator(schema, format_checker=FORMAT_CHECKER)
    out = []
    for e in sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))[:10]:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        out.append(f"at {where}: {e.message}")
    return out


def template_of(path: str) -> str:
    """`/api/v1/devices/{name}` -> `/api/v1/devices/{}`."""
    return re.sub(r"\{[^}/]+\}", "{}", path)


def parse_media_type(text: str) -> Tuple[str, Dict[str, str]]:
    parts = [p.strip() for p in text.split(";")]
    params = {}
    for p in parts[1:]:
        if p:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params


def media_matches(spec_key: str, header: str) -> bool:
    """The response's type/subtype equals the spec's (or fits its range), and
    every parameter the spec names (e.g. version=0.0.4) is sent with that
    value; other parameters (charset) may be added."""
    st, sp = parse_media_type(spec_key)
    ht, hp = parse_media_type(header)
    s_type, _, s_sub = st.partition("/")
    h_type, _, h_sub = ht.partition("/")
    if s_type not in ("*", h_type) or s_sub not in ("*", h_sub):
        return False
    return all(hp.get(k) == v for k, v in sp.items())


def is_json_media(media: str) -> bool:
    t, _ = parse_media_type(media)
    return t == "application/json" or t.endswith("+json")


class Spec:
    def __init__(self, doc: dict):
        self.doc = doc
        self.ops: Dict[Tuple[str, str], dict] = {}      # (METHOD, path) -> operation
        self.path_params: Dict[Tuple[str, str], List[dict]] = {}
        for path, item in doc.get("paths", {}).items():
            shared = [resolve_ref(doc, p) for p in item.get("parameters", [])]
            for method in HTTP_METHODS:
                if method in item:
                    op = item[method]
                    own = [resolve_ref(doc, p) for p in op.get("parameters", [])]
                    names = {(p["name"], p["in"]) for p in own}
                    params = own + [p for p in shared if (p["name"], p["in"]) not in names]
                    self.ops[(method.upper(), path)] = op
                    self.path_params[(method.upper(), path)] = params

    def op(self, method: str, path: str) -> dict:
        key = (method.upper(), path)
        assert key in self.ops, f"the spec has no operation {method} {path}"
        return self.ops[key]

    def params(self, method: str, path: str, where: Optional[str] = None) -> List[dict]:
        ps = self.path_params[(method.upper(), path)]
        return [p for p in ps if where is None or p["in"] == where]

    def json_schema(self, schema: dict) -> dict:
        return to_json_schema(self.doc, schema)

    def request_schema(self, method: str, path: str) -> Optional[dict]:
        body = self.op(method, path).get("requestBody")
        if not body:
            return None
        body = resolve_ref(self.doc, body)
        for media, m in body.get("content", {}).items():
            if is_json_media(media) and "schema" in m:
                return self.json_schema(m["schema"])
        return None

    def request_example(self, method: str, path: str) -> Any:
        body = resolve_ref(self.doc, self.op(method, path).get("requestBody", {}))
        for media, m in body.get("content", {}).items():
            if is_json_media(media):
                if "example" in m:
                    return m["example"]
                return resolve_ref(self.doc, m.get("schema", {})).get("example")
        return None


@pytest.fixture(scope="module")
def spec() -> Spec:
    assert SPEC_FILE.is_file(), f"{SPEC_FILE} is missing"
    return Spec(load_spec())


def walk_schemas(spec: dict, node: Any, where: str, seen: set, depth: int = 0):
    """Yields (where, schema) for every schema object reachable from `node`."""
    if depth > 50 or not isinstance(node, dict):
        return
    if "$ref" in node:
        if node["$ref"] in seen:
            return
        seen = seen | {node["$ref"]}
        yield from walk_schemas(spec, resolve_ref(spec, node), node["$ref"], seen, depth + 1)
        return
    yield where, node
    for name, s in node.get("properties", {}).items():
        yield from walk_schemas(spec, s, f"{where}.{name}", seen, depth + 1)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            yield from walk_schemas(spec, node[key], f"{where}.{key}", seen, depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        for i, s in enumerate(node.get(key, [])):
            yield from walk_schemas(spec, s, f"{where}.{key}[{i}]", seen, depth + 1)


def test_spec_is_well_formed(spec):
    """Static checks of the document itself: version, refs, path parameters,
    operation ids, security schemes, valid schemas, and strict response
    objects (additionalProperties: false) so that a new field is drift."""
    doc = spec.doc
    problems = []
    assert doc.get("openapi") == "3.0.3", f"openapi: {doc.get('openapi')!r}"
    for key in ("title", "version"):
        assert doc.get("info", {}).get(key), f"info.{key} missing"

    def refs(node, where):
        if isinstance(node, dict):
            if "$ref" in node:
                try:
                    resolve_ref(doc, node)
                except AssertionError as e:
                    problems.append(f"{where}: {e}")
            for k, v in node.items():
                refs(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                refs(v, f"{where}[{i}]")
    refs(doc, "#")

    schemes = doc.get("components", {}).get("securitySchemes", {})
    op_ids = defaultdict(list)
    for (method, path), op in spec.ops.items():
        where = f"{method} {path}"
        op_ids[op.get("operationId")].append(where)
        declared = {p["name"] for p in spec.params(method, path, "path")}
        in_path = set(re.findall(r"\{([^}/]+)\}", path))
        if declared != in_path:
            problems.append(f"{where}: path parameters declared {sorted(declared)}, "
                            f"in the path {sorted(in_path)}")
        for p in spec.params(method, path):
            if p["in"] == "path" and p.get("required") is not True:
                problems.append(f"{where}: path parameter {p['name']} must be required: true")
            if "schema" in p:
                try:
                    jsonschema.Draft4Validator.check_schema(spec.json_schema(p["schema"]))
                except jsonschema.SchemaError as e:
                    problems.append(f"{where}: parameter {p['name']}: {e.message}")
        for req in op.get("security", []):
            for name in req:
                if name not in schemes:
                    problems.append(f"{where}: unknown security scheme {name}")
        responses = op.get("responses") or {}
        if not responses:
            problems.append(f"{where}: no responses")
        for code, r in responses.items():
            if not re.fullmatch(r"[1-5](\d\d|XX)|default", str(code)):
                problems.append(f"{where}: response key {code!r} (quote status codes in YAML)")
            r = resolve_ref(doc, r)
            if not r.get("description"):
                problems.append(f"{where} {code}: no description")
            for media, m in (r.get("content") or {}).items():
                parse_media_type(media)
                if "schema" not in m:
                    problems.append(f"{where} {code} {media}: no schema")
                    continue
                try:
                    jsonschema.Draft4Validator.check_schema(spec.json_schema(m["schema"]))
                except jsonschema.SchemaError as e:
                    problems.append(f"{where} {code} {media}: invalid schema: {e.message}")
                if not is_json_media(media):
                    continue
                for at, s in walk_schemas(doc, m["schema"], f"{where} {code}", set()):
                    if s.get("type") == "object" and s.get("additionalProperties") is not False:
                        problems.append(f"{at}: response object without additionalProperties: false")
                    for name in s.get("required", []):
                        if name not in s.get("properties", {}):
                            problems.append(f"{at}: required {name!r} is not a property")
    for op_id, where in op_ids.items():
        if not op_id:
            problems.append(f"no operationId: {where}")
        elif len(where) > 1:
            problems.append(f"operationId {op_id} used by {where}")
    assert not problems, "docs/openapi.yaml:\n  " + "\n  ".join(problems)


# ===========================================================================
# 1. Source -> spec
# ===========================================================================

def strip_comments(text: str) -> str:
    """C++ source without comments; string, raw-string and character literals
    kept whole (a `//` inside a literal is not a comment)."""
    out: List[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum()
                                                                    or text[i - 1] == "_")):
            m = re.match(r'R"([^()\\\s]{0,16})\(', text[i:])
            if m:
                close = ")" + m.group(1) + '"'
                end = text.find(close, i + m.end())
                end = n if end < 0 else end + len(close)
                out.append(text[i:end])
                i = end
                continue
        if c == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < n and text[i + 1].isalnum() \
                and not text[i - 1].isalpha():  # a digit separator: 1'000
            out.append(c)
            i += 1
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            out.append(" ")
            i = n if j < 0 else j + 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


LITERAL = r'(?:R"(?P<delim>[^()\\\s]{0,16})\((?P<raw>.*?)\)(?P=delim)"|"(?P<str>(?:[^"\\\n]|\\.)*)")'
ROUTE_CALL = re.compile(
    r"(?:\b[A-Za-z_]\w*\s*(?:\.|->)\s*(?P<method>Get|Put|Post|Delete|Patch|Options)"
    r"|\broutes\s*\.\s*(?P<table_method>get|put|post|del))\s*\(\s*"
    r"(?:" + LITERAL + r"|(?P<ident>[A-Za-z_][\w:]*)\s*[,)])", re.S)
ANY_ROUTE_CALL = re.compile(
    r"(?:\b[A-Za-z_]\w*\s*(?:\.|->)\s*(?:Get|Put|Post|Delete|Patch|Options)"
    r"|\broutes\s*\.\s*(?:get|put|post|del))\s*\(")
# The route table forwards whatever pattern it is given: it registers no route itself.
ROUTE_FORWARDERS = {"route_table.cpp"}
MOUNTS = re.compile(r"\b(set_mount_point|set_base_dir|set_file_request_handler)\s*\(")


def literal_value(m: re.Match) -> str:
    if m.group("raw") is not None:
        return m.group("raw")
    return re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(e.group(1), e.group(1)),
                  m.group("str"))


def constant_value(ident: str, own_text: str, others: Sequence[Tuple[Path, str]]) -> Optional[str]:
    """The string literal a named constant is initialised with (`const char*
    one = R"(...)";`, `constexpr char kX[] = "...";`, `std::string k{"..."}`),
    looked up in the same file first, then in rest/."""
    name = ident.split("::")[-1]
    pat = re.compile(r"\b" + re.escape(name) + r"\s*(?:\[\s*\w*\s*\])?\s*(?:=|\{|\()\s*"
                     + LITERAL, re.S)
    for text in [own_text] + [t for _, t in others]:
        m = pat.search(text)
        if m:
            return literal_value(m)
    return None


def route_template(pattern: str) -> str:
    """cpp-httplib path (a regex; or `:name` segments in newer versions) ->
    `/a/{}/b`: each top-level group is one parameter, escapes are literal."""
    p = pattern
    if p.startswith("^"):
        p = p[1:]
    if p.endswith("$") and not p.endswith("\\$"):
        p = p[:-1]
    out: List[str] = []
    depth, i = 0, 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            if i + 1 >= len(p):
                raise ValueError("a trailing backslash")
            if depth == 0:
                if p[i + 1].isalnum():
                    raise ValueError(f"regex class \\{p[i + 1]} outside a group")
                out.append(p[i + 1])
            i += 2
            continue
        if c == "[":
            if depth == 0:
                raise ValueError("a character class outside a group")
            j = i + 1
            if j < len(p) and p[j] == "^":
                j += 1
            if j < len(p) and p[j] == "]":
                j += 1
            while j < len(p) and p[j] != "]":
                j += 2 if p[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
            if depth == 1:
                out.append("{}")
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced ')'")
        elif depth == 0:
            if c in "*+?|{}":
                raise ValueError(f"regex operator {c!r} outside a group")
            out.append(c)
        i += 1
    if depth:
        raise ValueError("unbalanced '('")
    return re.sub(r"/:[A-Za-z_]\w*", "/{}", "".join(out))


def source_routes() -> Tuple[Dict[Tuple[str, str], List[str]], List[str]]:
    """({(METHOD, template): [file:line, ...]}, [problems])."""
    files = sorted(f for f in ROUTE_DIR.glob("*.cpp") if f.name not in ROUTE_FORWARDERS)
    texts = {f: strip_comments(f.read_text(encoding="utf-8")) for f in files}
    everything = [(f, strip_comments(f.read_text(encoding="utf-8")))
                  for d in CONSTANT_DIRS for f in sorted(d.rglob("*")) if f.suffix in (".cpp", ".hpp", ".h")]
    routes: Dict[Tuple[str, str], List[str]] = defaultdict(list)
    problems: List[str] = []
    for f, text in texts.items():
        rel = f.relative_to(REPO)
        for m in ROUTE_CALL.finditer(text):
            where = f"{rel}:{text.count(chr(10), 0, m.start()) + 1}"
            if m.group("ident"):
                value = constant_value(m.group("ident"), text, everything)
                if value is None:
                    problems.append(f"{where}: cannot find the string constant "
                                    f"{m.group('ident')!r} this route uses")
                    continue
            else:
                value = literal_value(m)
            try:
                method = (m.group("method") or m.group("table_method")).upper()
                method = {"DEL": "DELETE"}.get(method, method)
                routes[(method, route_template(value))].append(where)
            except ValueError as e:
                problems.append(f"{where}: cannot read the path {value!r} as a route ({e})")
        understood = {m.start() for m in ROUTE_CALL.finditer(text)}
        for m in ANY_ROUTE_CALL.finditer(text):
            if m.start() not in understood:
                line = text.count(chr(10), 0, m.start()) + 1
                problems.append(f"{rel}:{line}: cannot read the path of this route registration "
                                f"(use a string literal or a named string constant): "
                                f"{text[m.start():m.start() + 80].splitlines()[0]!r}")
        for m in MOUNTS.finditer(text):
            problems.append(f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(1)}() "
                            f"serves paths this test cannot enumerate; register them with "
                            f"srv.Get(...) or teach test_openapi.py")
    if not files:
        problems.append(f"no C++ files under {ROUTE_DIR}")
    return routes, problems


def test_route_source_is_readable():
    routes, problems = source_routes()
    assert not problems, "route registrations not understood:\n  " + "\n  ".join(problems)
    assert len(routes) >= 5, f"only {len(routes)} routes found in rest/src/*.cpp: {routes}"


def test_spec_lists_every_route_in_the_source(spec):
    routes, _ = source_routes()
    in_spec = {(m, template_of(p)) for (m, p) in spec.ops}
    missing = sorted(f"{m} {t}   (registered at {', '.join(w)})"
                     for (m, t), w in routes.items() if (m, t) not in in_spec)
    assert not missing, ("routes the server registers but docs/openapi.yaml lacks "
                         "({} = a path parameter):\n  " + "\n  ".join(missing))


def test_source_registers_every_spec_operation(spec):
    routes, _ = source_routes()
    missing = sorted(f"{m} {p}" for (m, p) in spec.ops if (m, template_of(p)) not in routes)
    assert not missing, ("operations in docs/openapi.yaml that rest/src/*.cpp does not "
                         "register:\n  " + "\n  ".join(missing))


# ===========================================================================
# 2. Spec -> live server
# ===========================================================================

def parse_raw_response(method: str, path: str, data: bytes) -> HttpResult:
    """The first HTTP/1.1 response in `data` (from raw_http_exchange)."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert len(parts) >= 2 and parts[0].startswith("HTTP/"), f"not an HTTP response: {data[:300]!r}"
    raw = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        raw.append((k.strip(), v.strip()))
    headers = {k.lower(): v for k, v in raw}
    length = int(headers.get("content-length", len(rest)))
    return HttpResult(method, path, int(parts[1]), parts[2] if len(parts) > 2 else "",
                      headers, rest[:length], raw)


class Api:
    """Sends requests described in the spec's terms and checks each answer
    against the spec. Records what each operation was answered."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.seen: Dict[Tuple[str, str], List[int]] = defaultdict(list)

    # -- requests ---------------------------------------------------------------
    def url(self, method: str, path: str, path_params: Optional[Dict[str, str]],
            query: Optional[Sequence[Tuple[str, Any]]]) -> str:
        declared_path = {p["name"] for p in self.spec.params(method, path, "path")}
        given = set(path_params or {})
        assert given == declared_path, (f"{method} {path}: the test gives path parameters "
                                        f"{sorted(given)}, the spec declares {sorted(declared_path)}")
        url = path
        for k, v in (path_params or {}).items():
            url = url.replace("{" + k + "}", quote(str(v), safe=""))
        if query:
            declared_q = {p["name"] for p in self.spec.params(method, path, "query")}
            for k, _ in query:
                assert k in declared_q, (f"{method} {path}: query parameter {k!r} is not in the "
                                         f"spec (declared: {sorted(declared_q)})")
            url += "?" + "&".join(f"{quote(k)}={quote(str(v), safe=',:')}" for k, v in query)
        return url

    def call(self, port: int, method: str, path: str, *, path_params: Optional[Dict[str, str]] = None,
             query: Optional[Sequence[Tuple[str, Any]]] = None, auth: Optional[Tuple[str, str]] = None,
             headers: Optional[Dict[str, str]] = None, json_body: Any = None,
             body: Optional[bytes] = None, body_valid: Optional[bool] = None,
             source: Optional[str] = None, expect: Optional[int] = None) -> HttpResult:
        op = self.spec.op(method, path)
        url = self.url(method, path, path_params, query)
        declared_h = {p["name"].lower() for p in self.spec.params(method, path, "header")}
        hdrs = dict(headers or {})
        for k in hdrs:
            assert k.lower() in declared_h or k.lower() in TRANSPORT_HEADERS, (
                f"{method} {path}: header {k!r} is not a parameter in the spec")
        if auth is not None or "authorization" in {k.lower() for k in hdrs}:
            assert op.get("security"), f"{method} {path}: credentials sent, but the spec has no security"
        if json_body is not None:
            assert op.get("requestBody"), f"{method} {path}: a body sent, but the spec has no requestBody"
            body = json.dumps(json_body).encode()
            hdrs.setdefault("Content-Type", "application/json")
            if body_valid is not None:
                errs = schema_errors(self.spec.request_schema(method, path), json_body)
                assert (not errs) == body_valid, (
                    f"{method} {path}: the spec's request schema "
                    f"{'rejects' if errs else 'accepts'} {json_body!r} but the test expects the "
                    f"server to {'accept' if body_valid else 'reject'} it {errs}")
        res = http_request(port, method, url, auth=auth, headers=hdrs, body=body, source=source)
        self.check(method, path, res)
        if expect is not None:
            assert res.status == expect, f"{method} {url}: expected {expect}: {res!r}"
        return res

    # -- answers ----------------------------------------------------------------
    def check(self, method: str, path: str, res: HttpResult) -> None:
        """The answer is one the spec describes for this operation."""
        op = self.spec.op(method, path)
        self.seen[(method.upper(), path)].append(res.status)
        responses = op.get("responses", {})
        code = str(res.status)
        r = responses.get(code) or responses.get(code[0] + "XX") or responses.get("default")
        assert r is not None, (f"{method} {path} answered {res.status}; the spec lists only "
                               f"{sorted(responses)}:\n{res!r}")
        r = resolve_ref(self.spec.doc, r)
        for name, h in (r.get("headers") or {}).items():
            h = resolve_ref(self.spec.doc, h)
            value = res.headers.get(name.lower())
            if h.get("required"):
                assert value is not None, f"{method} {path} {code}: no {name} header:\n{res!r}"
            if value is not None and "schema" in h:
                errs = schema_errors(self.spec.json_schema(h["schema"]), value)
                assert not errs, f"{method} {path} {code}: header {name}: {value!r}: {errs}"
        content = r.get("content") or {}
        if not content:
            assert res.body == b"", f"{method} {path} {code}: the spec has no body, got one:\n{res!r}"
            return
        ctype = res.headers.get("content-type", "")
        assert ctype, f"{method} {path} {code}: no Content-Type:\n{res!r}"
        media = [k for k in content if media_matches(k, ctype)]
        assert media, (f"{method} {path} {code}: Content-Type {ctype!r} is not one the spec "
                       f"lists ({sorted(content)}):\n{res!r}")
        m = content[media[0]]
        if "schema" not in m:
            return
        schema = self.spec.json_schema(m["schema"])
        if schema.get("format") == "binary":  # not text (a DNS message): nothing to validate
            return
        if is_json_media(media[0]):
            try:
                instance = json.loads(res.body)
            except ValueError as e:
                raise AssertionError(f"{method} {path} {code}: body is not JSON ({e}):\n{res!r}")
        else:
            try:
                instance = res.body.decode("utf-8")
            except UnicodeDecodeError as e:
                raise AssertionError(f"{method} {path} {code}: body is not UTF-8 ({e})")
        errs = schema_errors(schema, instance)
        assert not errs, (f"{method} {path} {code}: body does not match the spec's schema "
                          f"({media[0]}):\n  " + "\n  ".join(errs) + f"\n{res!r}")

    # -- spec-driven probes -----------------------------------------------------
    def probe_integer_params(self, port: int, method: str, path: str, ok_status: int = 200,
                             **kw) -> None:
        """Each integer query parameter at its bounds (accepted) and beyond
        them or not a number (400), as the spec's schema says."""
        for p in self.spec.params(method, path, "query"):
            s = self.spec.json_schema(p.get("schema", {}))
            if s.get("type") != "integer":
                continue
            good, bad = [], ["x", "1.5", ""]
            if "minimum" in s:
                good.append(s["minimum"])
                bad.append(s["minimum"] - 1)
            if "maximum" in s:
                good.append(s["maximum"])
                bad.append(s["maximum"] + 1)
            if "default" in s:
                good.append(s["default"])
            for v in good:
                assert not schema_errors(s, v)
                self.call(port, method, path, query=[(p["name"], v)], expect=ok_status, **kw)
            for v in bad:
                if v != "" and not isinstance(v, str):
                    assert schema_errors(s, v), f"{p['name']}={v!r}: the spec's schema accepts it"
                self.call(port, method, path, query=[(p["name"], v)], expect=400, **kw)

    def probe_json_body(self, port: int, method: str, path: str, ok: Sequence[int],
                        **kw) -> None:
        """Bodies made from the spec's request schema: its example and nulls
        where nullable are accepted; a wrong type for each property, a string
        breaking each format or pattern, too many items, an unknown field are
        refused -- by the schema and by the server alike."""
        schema = self.spec.request_schema(method, path)
        assert schema and schema.get("type") == "object", f"{method} {path}: no JSON object body"
        example = self.spec.request_example(method, path)
        assert isinstance(example, dict), f"{method} {path}: the request schema has no example"
        goods: List[Any] = [example, {}]
        bads: List[Any] = [{"no_such_field_in_the_spec": 1}]
        wrong_for = {"string": 12345, "integer": "x", "number": "x", "boolean": "x",
                     "array": "x", "object": []}
        for name, prop in schema.get("properties", {}).items():
            types = prop.get("type")
            types = types if isinstance(types, list) else [types]
            if "null" in types:
                goods.append({name: None})
            else:
                bads.append({name: None})
            first = next(t for t in types if t != "null")
            bads.append({name: wrong_for[first]})
            if first == "string" and ("format" in prop or "pattern" in prop):
                bads.append({name: "not valid: no"})
            if first == "array":
                items = prop.get("items", {})
                bads.append({name: [12345]})
                if "pattern" in items:
                    bads.append({name: ["not valid: no"]})
                sample = example.get(name)
                if "maxItems" in prop and sample:
                    bads.append({name: [sample[0]] * (prop["maxItems"] + 1)})
        for b in goods:
            res = self.call(port, method, path, json_body=b, body_valid=True, **kw)
            assert res.status in ok, f"{method} {path} {b!r}: expected one of {ok}: {res!r}"
        for b in bads:
            self.call(port, method, path, json_body=b, body_valid=False, expect=400, **kw)


# ---------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------

class Env:
    def __init__(self, node_factory, reg_factory):
        self.node_factory = node_factory
        self.reg: Registrar = reg_factory.start("openapi-uw")
        self._nodes = {}

    def _lazy(self, name: str, make: Callable):
        if name not in self._nodes:
            self._nodes[name] = make()
        return self._nodes[name]

    @property
    def uw(self) -> int:
        return self.reg.http_port

    @property
    def nolabel(self):
        """An agent without --label, filled with the fixture store."""
        return self._lazy("nolabel", lambda: self.node_factory.start("openapi-nolabel"))

    @property
    def gateway(self):
        """A standalone gateway whose home agent is `uw`."""
        def make():
            st = http_request(self.uw, "GET", "/api/v1/status")
            assert st.status == 200, st
            gport = st.json()["ports"]["gateway"]
            return self.node_factory.start("openapi-gw", devices=None,
                                           extra_args=["--home-agent", f"127.0.0.1:{gport}"])
        return self._lazy("gateway", make)

    @property
    def deadgw(self):
        """A gateway whose only home agent does not listen."""
        return self._lazy("deadgw", lambda: self.node_factory.start(
            "openapi-deadgw", devices=None,
            extra_args=["--home-agent", f"127.0.0.1:{free_port()}", "--timeout", "1"]))

    def stop(self):
        for n in self._nodes.values():
            n.stop()
        self.reg.stop()


@pytest.fixture(scope="module")
def env(node_factory, registrar_factory):  # noqa: F811
    e = Env(node_factory, registrar_factory)
    yield e
    e.stop()


@pytest.fixture(scope="module")
def api(spec):
    return Api(spec)



def creds(env: Env, user: str) -> Tuple[str, str]:
    return env.reg.creds(user)


def throttle(api: Api, port: int, method: str, path: str, user: str, source: str,
             blocked_status: int = 429, **kw) -> HttpResult:
    """Wrong passwords for `user` from `source` until the server blocks them."""
    seen = []
    for i in range(THROTTLE_ATTEMPTS):
        res = api.call(port, method, path, auth=(user, f"wrong-{i}"), source=source, **kw)
        seen.append(res.status)
        if res.status == blocked_status:
            return res
    raise AssertionError(f"{method} {path}: no {blocked_status} after {THROTTLE_ATTEMPTS} wrong "
                         f"passwords from {source}: {seen}")


# ---------------------------------------------------------------------------
# Scenarios: one per operationId. Each sends good and bad requests through
# api.call, which checks every answer against the spec.
# ---------------------------------------------------------------------------

def sc_nic_update(env: Env, api: Api):
    port, P = env.uw, "/nic/update"
    alice = creds(env, "alice")

    def nic(q, auth=alice, **kw):
        return api.call(port, "GET", P, query=q, auth=auth, **kw)

    assert nic([("hostname", "oa-nic.alice.uw"), ("myip", "192.0.2.70")], expect=200).lines == [
        "good 192.0.2.70"]
    assert nic([("hostname", "oa-nic.alice.uw"), ("myip", "192.0.2.70")], expect=200).lines == [
        "nochg 192.0.2.70"]
    assert nic([("hostname", "oa-nic.alice.uw"), ("myip", "192.0.2.71,2001:db8::71")],
               expect=200).lines == ["good 192.0.2.71,2001:db8::71"]
    assert nic([("hostname", "oa-nic.alice.uw"), ("myipv6", "2001:db8::72")],
               expect=200).lines == ["good 2001:db8::72"]
    # no address: the caller's
    assert nic([("hostname", "oa-nic2.alice.uw")], source="127.0.0.70", expect=200).lines == [
        "good 127.0.0.70"]
    lines = nic([("hostname", "oa-nic.alice.uw,bad_name.alice.uw,x.bob.uw"),
                 ("myip", "192.0.2.73")], expect=200).lines
    assert lines == ["good 192.0.2.73", "notfqdn", "nohost"], lines
    assert nic([("hostname", "oa-nic2.alice.uw"), ("offline", "yes")], expect=200).lines == ["good"]
    assert nic([("myip", "192.0.2.74")], expect=200).lines == ["notfqdn"]
    many = ",".join(f"n{i}.alice.uw" for i in range(21))
    assert nic([("hostname", many), ("myip", "192.0.2.75")], expect=200).lines == ["numhost"]
    # bad parameters
    nic([("hostname", "oa-nic.alice.uw"), ("myip", "192.0.2.300")], expect=400)
    nic([("hostname", "oa-nic.alice.uw"), ("myipv6", "192.0.2.1")], expect=400)
    nic([("hostname", "oa-nic.alice.uw"), ("myip", "224.0.0.1")], expect=400)
    # credentials
    assert nic([("hostname", "oa-nic.alice.uw")], auth=None, expect=401).lines == ["badauth"]
    assert nic([("hostname", "oa-nic.alice.uw")], auth=("alice", "wrong"), source="127.0.0.71",
               expect=200).lines == ["badauth"]
    assert nic([("hostname", "oa-nic.alice.uw")], auth=("nosuchuser", "x"), source="127.0.0.71",
               expect=200).lines == ["badauth"]
    res = throttle(api, port, "GET", P, "bob", "127.0.72.1", query=[("hostname", "t.bob.uw")])
    assert res.lines == ["abuse"], res
    # a node without a label does not serve it
    api.call(env.nolabel.http_port, "GET", P, query=[("hostname", "laptop.alice.uw")],
             auth=alice, expect=404)


def sc_check_ip(env: Env, api: Api):
    res = api.call(env.uw, "GET", "/checkip", expect=200)
    assert "Current IP Address: 127.0.0.1<" in res.text, res
    res = api.call(env.uw, "GET", "/checkip", source="127.0.0.73", expect=200)
    assert "Current IP Address: 127.0.0.73<" in res.text, res
    res = api.call(env.nolabel.http_port, "GET", "/checkip", expect=200)  # every node
    assert "Current IP Address: 127.0.0.1<" in res.text, res


def sc_get_status(env: Env, api: Api):
    doc = api.call(env.uw, "GET", "/api/v1/status", expect=200).json()
    node = env.reg.node
    assert (doc["label"], doc["mode"], doc["zones"]) == ("uw", "agent", ["dht."]), doc
    assert doc["ports"]["http"] == node.http_port and doc["ports"]["dns"] == node.port, doc
    assert doc["ports"]["gateway"] > 0 and "127.0.0.1" in doc["addresses"], doc
    doc = api.call(env.nolabel.http_port, "GET", "/api/v1/status", expect=200).json()
    assert (doc["label"], doc["mode"], doc["devices"]) == ("", "agent", len(STORE_DEVICES)), doc
    doc = api.call(env.gateway.http_port, "GET", "/api/v1/status", expect=200).json()
    assert (doc["label"], doc["mode"], doc["ports"]["gateway"]) == ("", "gateway", 0), doc


def sc_get_metrics(env: Env, api: Api):
    res = api.call(env.uw, "GET", "/metrics", expect=200)
    assert "\npweb_http_requests_total{" in res.text, res.text[:500]
    api.call(env.gateway.http_port, "GET", "/metrics", expect=200)


def sc_get_status_page(env: Env, api: Api):
    res = api.call(env.uw, "GET", "/", expect=200)
    assert "status.js" in res.text and "status.css" in res.text, (
        f"the page does not load status.js and status.css:\n{res.text[:1000]}")
    api.call(env.gateway.http_port, "GET", "/", expect=200)


def sc_get_status_script(env: Env, api: Api):
    res = api.call(env.uw, "GET", "/status.js", expect=200)
    assert "/api/v1/status" in res.text, f"status.js does not read /api/v1/status:\n{res.text[:500]}"


def sc_get_status_style(env: Env, api: Api):
    api.call(env.uw, "GET", "/status.css", expect=200)


def put(env: Env, user: str, name: str, body: dict, status: Sequence[int] = (200, 201)) -> None:
    res = env.reg.put_device(user, name, body)
    assert res.status in status, res


def sc_list_devices(env: Env, api: Api):
    port, P = env.uw, "/api/v1/devices"
    for i in range(3):
        put(env, "alice", f"oa-list{i}.alice.uw", {"ipv4": f"198.51.100.{i + 1}"})
    first = api.call(port, "GET", P, expect=200)
    assert len(first.json()["devices"]) >= 3, first
    page = api.call(port, "GET", P, query=[("limit", 1)], expect=200).json()
    assert len(page["devices"]) == 1 and isinstance(page["next_cursor"], str), page
    nxt = api.call(port, "GET", P, query=[("limit", 1), ("cursor", page["next_cursor"])],
                   expect=200).json()
    assert nxt["devices"][0]["name"] > page["devices"][0]["name"], (page, nxt)
    assert api.call(port, "GET", P, query=[("cursor", "zzzz")], expect=200).json() == {
        "devices": [], "next_cursor": None}
    assert api.call(port, "GET", P, query=[("since", 4102444800)], expect=200).json()[
        "devices"] == []
    # revalidation
    tag = first.headers["etag"]
    api.call(port, "GET", P, headers={"If-None-Match": tag}, expect=304)
    api.call(port, "GET", P, headers={"If-None-Match": f'"x", W/{tag}'}, expect=304)
    api.call(port, "GET", P, headers={"If-None-Match": "*"}, expect=304)
    api.call(port, "GET", P, headers={"If-None-Match": '"0123"'}, expect=200)
    # limit and since at and beyond the spec's bounds
    api.probe_integer_params(port, "GET", P)
    api.call(env.nolabel.http_port, "GET", P, expect=404)


def sc_get_device(env: Env, api: Api):
    port, P = env.uw, "/api/v1/devices/{name}"
    name = "oa-get.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.80", "services": ["http:8080"]})
    alice = creds(env, "alice")
    doc = api.call(port, "GET", P, path_params={"name": name}, auth=alice, expect=200).json()
    assert doc["name"] == name and doc["ipv4"] == "192.0.2.80" and doc["ipv6"] is None, doc
    doc = api.call(port, "GET", P, path_params={"name": "OA-Get.Alice.UW"}, auth=alice,
                   expect=200).json()
    assert doc["name"] == name, doc
    api.call(port, "GET", P, path_params={"name": "oa-none.alice.uw"}, auth=alice, expect=404)
    for bad in ("bad_label.alice.uw", "alice.uw", "a.b.alice.uw", "-a.alice.uw"):
        api.call(port, "GET", P, path_params={"name": bad}, auth=alice, expect=400)
    api.call(port, "GET", P, path_params={"name": name}, expect=401)
    api.call(port, "GET", P, path_params={"name": name}, auth=("alice", "wrong"),
             source="127.0.0.74", expect=401)
    for header in ("Basic !!!", "Bearer abc", "Basic " + "YWxpY2U="):  # no colon
        api.call(port, "GET", P, path_params={"name": name},
                 headers={"Authorization": header}, expect=401)
    api.call(port, "GET", P, path_params={"name": name}, auth=creds(env, "bob"), expect=403)
    throttle(api, port, "GET", P, "carol", "127.0.75.1", path_params={"name": "x.carol.uw"})
    api.call(env.nolabel.http_port, "GET", P, path_params={"name": "laptop.alice.uw"},
             auth=alice, expect=404)


def sc_put_device(env: Env, api: Api):
    port, P = env.uw, "/api/v1/devices/{name}"
    alice = creds(env, "alice")
    name = "oa-put.alice.uw"
    pp = {"name": name}
    doc = api.call(port, "PUT", P, path_params=pp, auth=alice, body_valid=True,
                   json_body={"ipv4": "192.0.2.90", "ipv6": "2001:db8::90",
                              "services": ["HTTP:08080", "ssh:22"]}, expect=201).json()
    assert doc["services"] == ["http:8080", "ssh:22"] and doc["ipv6"] == "2001:db8::90", doc
    doc = api.call(port, "PUT", P, path_params=pp, auth=alice, body_valid=True,
                   json_body={"ipv6": None}, expect=200).json()
    assert doc["ipv4"] == "192.0.2.90" and doc["ipv6"] is None, doc
    api.probe_json_body(port, "PUT", P, ok=(200,), path_params=pp, auth=alice)
    for raw in (b"", b"not json", b"[]", b'{"ipv4": "192.0.2.91"', b'{"ipv4": "192.0.2.91"} x'):
        api.call(port, "PUT", P, path_params=pp, auth=alice, body=raw,
                 headers={"Content-Type": "application/json"}, expect=400)
    api.call(port, "PUT", P, path_params={"name": "bad_label.alice.uw"}, auth=alice,
             json_body={}, expect=400)
    api.call(port, "PUT", P, path_params=pp, json_body={}, expect=401)
    api.call(port, "PUT", P, path_params=pp, auth=("alice", "wrong"), source="127.0.0.76",
             json_body={}, expect=401)
    api.call(port, "PUT", P, path_params=pp, auth=creds(env, "bob"), json_body={}, expect=403)
    api.call(port, "PUT", P, path_params={"name": "new.alice.uw"}, auth=creds(env, "bob"),
             json_body={}, expect=403)
    # 64 KiB + 1: sent raw, the server may answer before reading it all
    body = b'{"ipv4": "192.0.2.92"' + b" " * (64 * 1024 - 21) + b"}"
    assert len(body) == 64 * 1024 + 1
    auth = "Basic " + base64.b64encode(f"{alice[0]}:{alice[1]}".encode()).decode()
    req = (f"PUT /api/v1/devices/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
           f"Connection: close\r\n\r\n").encode() + body
    data, _ = raw_http_exchange(port, req)
    res = parse_raw_response("PUT", P, data)
    api.check("PUT", P, res)
    assert res.status == 413, res
    throttle(api, port, "PUT", P, "carol", "127.0.77.1", path_params={"name": "x.carol.uw"},
             json_body={})
    api.call(env.nolabel.http_port, "PUT", P, path_params={"name": "laptop.alice.uw"},
             auth=alice, json_body={}, expect=404)


def sc_delete_device(env: Env, api: Api):
    port, P = env.uw, "/api/v1/devices/{name}"
    alice = creds(env, "alice")
    name = "oa-del.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.95"})
    api.call(port, "DELETE", P, path_params={"name": name}, expect=401)
    api.call(port, "DELETE", P, path_params={"name": name}, auth=("alice", "wrong"),
             source="127.0.0.78", expect=401)
    api.call(port, "DELETE", P, path_params={"name": name}, auth=creds(env, "bob"), expect=403)
    api.call(port, "DELETE", P, path_params={"name": "bad_label.alice.uw"}, auth=alice, expect=400)
    api.call(port, "DELETE", P, path_params={"name": name}, auth=alice, expect=204)
    api.call(port, "DELETE", P, path_params={"name": name}, auth=alice, expect=404)
    throttle(api, port, "DELETE", P, "carol", "127.0.79.1", path_params={"name": "x.carol.uw"})
    api.call(env.nolabel.http_port, "DELETE", P, path_params={"name": "laptop.alice.uw"},
             auth=alice, expect=404)


def sc_list_tokens(env: Env, api: Api):
    port, P = env.uw, "/api/v1/devices/{name}/tokens"
    alice = creds(env, "alice")
    name = "oa-tokl.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.110"})
    pp = {"name": name}
    assert api.call(port, "GET", P, path_params=pp, auth=alice, expect=200).json() == {"tokens": []}
    made = env.reg.request("POST", f"/api/v1/devices/{name}/tokens", auth=alice, body="{}",
                           headers={"Content-Type": "application/json"})
    assert made.status == 201, made
    doc = api.call(port, "GET", P, path_params=pp, auth=alice, expect=200).json()
    assert [t["id"] for t in doc["tokens"]] == [made.json()["id"]], doc
    assert "token" not in doc["tokens"][0], doc
    api.call(port, "GET", P, path_params={"name": "bad_label.alice.uw"}, auth=alice, expect=400)
    api.call(port, "GET", P, path_params=pp, expect=401)
    api.call(port, "GET", P, path_params=pp, auth=("alice", "wrong"), source="127.0.0.110",
             expect=401)
    # a token is not the owner's password
    api.call(port, "GET", P, path_params=pp, auth=(name, made.json()["token"]), expect=401)
    api.call(port, "GET", P, path_params=pp, auth=creds(env, "bob"), expect=403)
    throttle(api, port, "GET", P, "carol", "127.0.111.1", path_params={"name": "x.carol.uw"})
    api.call(env.nolabel.http_port, "GET", P, path_params={"name": "laptop.alice.uw"},
             auth=alice, expect=404)


def sc_create_token(env: Env, api: Api):
    port, P = env.uw, "/api/v1/devices/{name}/tokens"
    alice = creds(env, "alice")
    name = "oa-tokc.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.112"})
    pp = {"name": name}
    doc = api.call(port, "POST", P, path_params=pp, auth=alice, body_valid=True,
                   json_body={"scope": "acme", "allowed_subnets": ["192.0.2.0/24"],
                              "expires": 4102444800}, expect=201).json()
    assert (doc["device"], doc["scope"], doc["allowed_subnets"], doc["expires"]) == (
        name, "acme", ["192.0.2.0/24"], 4102444800), doc
    api.probe_json_body(port, "POST", P, ok=(201,), path_params=pp, auth=alice)
    for bad in ({"scope": "admin"}, {"allowed_subnets": ["192.0.2.1/24"]},
                {"allowed_subnets": ["192.0.2.0/33"]}, {"expires": 1}, {"expires": 1.5}):
        api.call(port, "POST", P, path_params=pp, auth=alice, json_body=bad, expect=400)
    for raw in (b"", b"not json", b"[]", b'{"scope": "update"'):
        api.call(port, "POST", P, path_params=pp, auth=alice, body=raw,
                 headers={"Content-Type": "application/json"}, expect=400)
    api.call(port, "POST", P, path_params={"name": "oa-none.alice.uw"}, auth=alice, json_body={},
             expect=404)
    api.call(port, "POST", P, path_params={"name": "bad_label.alice.uw"}, auth=alice,
             json_body={}, expect=400)
    # up to 20 per device, then 409
    for _ in range(20):
        res = api.call(port, "POST", P, path_params=pp, auth=alice, json_body={})
        if res.status == 409:
            break
        assert res.status == 201, res
    api.call(port, "POST", P, path_params=pp, auth=alice, json_body={}, expect=409)
    api.call(port, "POST", P, path_params=pp, json_body={}, expect=401)
    api.call(port, "POST", P, path_params=pp, auth=("alice", "wrong"), source="127.0.0.112",
             json_body={}, expect=401)
    api.call(port, "POST", P, path_params=pp, auth=creds(env, "bob"), json_body={}, expect=403)
    throttle(api, port, "POST", P, "carol", "127.0.113.1", path_params={"name": "x.carol.uw"},
             json_body={})
    api.call(env.nolabel.http_port, "POST", P, path_params={"name": "laptop.alice.uw"},
             auth=alice, json_body={}, expect=404)


def sc_revoke_token(env: Env, api: Api):
    port, P = env.uw, "/api/v1/devices/{name}/tokens/{id}"
    alice = creds(env, "alice")
    name = "oa-tokr.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.114"})
    made = env.reg.request("POST", f"/api/v1/devices/{name}/tokens", auth=alice, body="{}",
                           headers={"Content-Type": "application/json"})
    assert made.status == 201, made
    pp = {"name": name, "id": made.json()["id"]}
    api.call(port, "DELETE", P, path_params=pp, expect=401)
    api.call(port, "DELETE", P, path_params=pp, auth=("alice", "wrong"), source="127.0.0.114",
             expect=401)
    api.call(port, "DELETE", P, path_params=pp, auth=creds(env, "bob"), expect=403)
    api.call(port, "DELETE", P, path_params={**pp, "name": "bad_label.alice.uw"}, auth=alice,
             expect=400)
    api.call(port, "DELETE", P, path_params={**pp, "name": "oa-tokc.alice.uw"}, auth=alice,
             expect=404)
    api.call(port, "DELETE", P, path_params=pp, auth=alice, expect=204)
    api.call(port, "DELETE", P, path_params=pp, auth=alice, expect=404)
    api.call(port, "DELETE", P, path_params={**pp, "id": "nosuch"}, auth=alice, expect=404)
    throttle(api, port, "DELETE", P, "carol", "127.0.115.1",
             path_params={"name": "x.carol.uw", "id": "t0123456789abcdef"})
    api.call(env.nolabel.http_port, "DELETE", P,
             path_params={"name": "laptop.alice.uw", "id": "t0123456789abcdef"}, auth=alice,
             expect=404)


def sc_resolve(env: Env, api: Api):
    port, P = env.uw, "/api/v1/resolve/{name}"
    put(env, "alice", "oa-res.alice.uw", {"ipv4": "192.0.2.100", "ipv6": None})
    for name in ("oa-res.alice.uw", "OA-Res.Alice.UW", "oa-res.alice.uw.dht.", "oa-res.alice.uw.dht"):
        doc = api.call(port, "GET", P, path_params={"name": name}, expect=200).json()
        assert (doc["name"], doc["status"], doc["source"], doc["ipv4"], doc["ipv6"]) == (
            "oa-res.alice.uw", "found", "local", "192.0.2.100", None), doc
    doc = api.call(port, "GET", P, path_params={"name": "nope.alice.uw"}, expect=404).json()
    assert doc["status"] == "nxdomain", doc
    doc = api.call(port, "GET", P, path_params={"name": "a.b.nosuchagent"}, expect=404).json()
    assert doc["status"] == "nxdomain", doc
    for bad in ("bad_label.alice.uw", "two.labels", "x" * 64 + ".alice.uw"):
        api.call(port, "GET", P, path_params={"name": bad}, expect=400)
    # an agent without a label answers from its store
    laptop = STORE_DEVICES[0]
    doc = api.call(env.nolabel.http_port, "GET", P, path_params={"name": laptop[0]},
                   expect=200).json()
    assert (doc["ipv4"], doc["ipv6"], doc["source"]) == (laptop[1], laptop[2], "local"), doc
    # a gateway asks its home agent; one that cannot reach it is 502 (not a timeout)
    doc = api.call(env.gateway.http_port, "GET", P, path_params={"name": "oa-res.alice.uw"},
                   expect=200).json()
    assert (doc["ipv4"], doc["source"]) == ("192.0.2.100", "remote"), doc
    api.call(env.gateway.http_port, "GET", P, path_params={"name": "nope.alice.uw"}, expect=404)
    t0 = time.monotonic()
    doc = api.call(env.deadgw.http_port, "GET", P, path_params={"name": "oa-res.alice.uw"},
                   expect=502).json()
    assert doc["status"] == "servfail" and doc["failure"] == "agent", doc
    assert time.monotonic() - t0 < 5, doc


def sc_get_agent(env: Env, api: Api):
    port, P = env.uw, "/api/v1/agents/{label}"
    for label in ("uw", "UW"):
        doc = api.call(port, "GET", P, path_params={"label": label}, expect=200).json()
        assert doc["label"] == "uw" and doc["http_port"] == env.uw, doc
        assert doc["dns_port"] == env.reg.node.port, doc
    api.call(port, "GET", P, path_params={"label": "nosuchagent"}, expect=404)
    for bad in ("bad_label", "-uw", "x" * 64):
        api.call(port, "GET", P, path_params={"label": bad}, expect=400)
    api.call(env.gateway.http_port, "GET", P, path_params={"label": "uw"}, expect=503)


def sc_list_neighbors(env: Env, api: Api):
    doc = api.call(env.uw, "GET", "/api/v1/neighbors", expect=200).json()
    assert doc["count"] == len(doc["neighbors"]), doc
    api.call(env.gateway.http_port, "GET", "/api/v1/neighbors", expect=503)


RR_ONE = "/api/v1/devices/{name}/rrsets/{subname}/{type}"
RR_ALL = "/api/v1/devices/{name}/rrsets"


def sc_list_rrsets(env: Env, api: Api):
    port = env.uw
    alice = creds(env, "alice")
    name = "oa-rr.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.110"})
    api.call(port, "PUT", RR_ONE, path_params={"name": name, "subname": "www", "type": "TXT"},
             auth=alice, json_body={"ttl": 60, "records": ['"a"']}, expect=200)
    doc = api.call(port, "GET", RR_ALL, path_params={"name": name}, auth=alice, expect=200).json()
    assert {(d["subname"], d["type"]) for d in doc} == {("@", "A"), ("www", "TXT")}, doc
    api.call(port, "GET", RR_ALL, path_params={"name": "oa-rr-none.alice.uw"}, auth=alice,
             expect=404)
    api.call(port, "GET", RR_ALL, path_params={"name": "bad_label.alice.uw"}, auth=alice,
             expect=400)
    api.call(port, "GET", RR_ALL, path_params={"name": name}, expect=401)
    api.call(port, "GET", RR_ALL, path_params={"name": name}, auth=creds(env, "bob"), expect=403)
    throttle(api, port, "GET", RR_ALL, "carol", "127.0.111.1", path_params={"name": "x.carol.uw"})
    api.call(env.nolabel.http_port, "GET", RR_ALL, path_params={"name": name}, auth=alice,
             expect=404)


def sc_get_rrset(env: Env, api: Api):
    port = env.uw
    alice = creds(env, "alice")
    name = "oa-rrget.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.111"})
    pp = {"name": name, "subname": "@", "type": "A"}
    doc = api.call(port, "GET", RR_ONE, path_params=pp, auth=alice, expect=200).json()
    assert doc["records"] == ["192.0.2.111"], doc
    api.call(port, "GET", RR_ONE, path_params={**pp, "type": "TXT"}, auth=alice, expect=404)
    for bad in ({"type": "NS"}, {"type": "BOGUS"}, {"subname": "a..b"}, {"name": "alice.uw"}):
        api.call(port, "GET", RR_ONE, path_params={**pp, **bad}, auth=alice, expect=400)
    api.call(port, "GET", RR_ONE, path_params=pp, expect=401)
    api.call(port, "GET", RR_ONE, path_params=pp, auth=creds(env, "bob"), expect=403)
    throttle(api, port, "GET", RR_ONE, "carol", "127.0.112.1",
             path_params={**pp, "name": "x.carol.uw"})


def sc_put_rrset(env: Env, api: Api):
    port = env.uw
    alice = creds(env, "alice")
    name = "oa-rrput.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.112"})
    pp = {"name": name, "subname": "_acme-challenge", "type": "TXT"}
    doc = api.call(port, "PUT", RR_ONE, path_params=pp, auth=alice, body_valid=True,
                   json_body={"ttl": 60, "records": ['"abc"', '"def"']}, expect=200).json()
    assert doc["subname"] == "_acme-challenge" and len(doc["records"]) == 2, doc
    # `records` is required, so the generic body probe (which sends {}) does not fit.
    for bad in ({}, {"records": "x"}, {"records": [1]}, {"ttl": "x", "records": []},
                {"ttl": None, "records": []}, {"records": None}, {"no_such_field_in_the_spec": 1},
                {"records": ['"a"'] * 257}):
        api.call(port, "PUT", RR_ONE, path_params=pp, auth=alice, json_body=bad,
                 body_valid=False, expect=400)
    api.call(port, "PUT", RR_ONE, path_params=pp, auth=alice, json_body={"records": []},
             expect=204)
    api.call(port, "PUT", RR_ONE, path_params=pp, auth=alice,
             json_body={"ttl": 1, "records": ['"x"']}, expect=422)
    api.call(port, "PUT", RR_ONE, path_params=pp, auth=alice,
             json_body={"ttl": 60, "records": ['"unterminated']}, expect=400)
    api.call(port, "PUT", RR_ONE, path_params={**pp, "name": "oa-rrnone.alice.uw"}, auth=alice,
             json_body={"ttl": 60, "records": ['"x"']}, expect=404)
    for raw in (b"", b"not json", b"[]"):
        api.call(port, "PUT", RR_ONE, path_params=pp, auth=alice, body=raw,
                 headers={"Content-Type": "application/json"}, expect=400)
    api.call(port, "PUT", RR_ONE, path_params=pp, json_body={"records": []}, expect=401)
    api.call(port, "PUT", RR_ONE, path_params=pp, auth=creds(env, "bob"),
             json_body={"records": []}, expect=403)
    throttle(api, port, "PUT", RR_ONE, "carol", "127.0.113.1",
             path_params={**pp, "name": "x.carol.uw"}, json_body={"records": []})


def sc_delete_rrset(env: Env, api: Api):
    port = env.uw
    alice = creds(env, "alice")
    name = "oa-rrdel.alice.uw"
    put(env, "alice", name, {"ipv4": "192.0.2.113"})
    pp = {"name": name, "subname": "www", "type": "TXT"}
    api.call(port, "PUT", RR_ONE, path_params=pp, auth=alice,
             json_body={"ttl": 60, "records": ['"a"']}, expect=200)
    api.call(port, "DELETE", RR_ONE, path_params=pp, auth=alice, expect=204)
    api.call(port, "GET", RR_ONE, path_params=pp, auth=alice, expect=404)
    api.call(port, "DELETE", RR_ONE, path_params={**pp, "type": "BOGUS"}, auth=alice, expect=400)
    api.call(port, "DELETE", RR_ONE, path_params={**pp, "name": "oa-rrnone.alice.uw"},
             auth=alice, expect=404)
    api.call(port, "DELETE", RR_ONE, path_params=pp, expect=401)
    api.call(port, "DELETE", RR_ONE, path_params=pp, auth=creds(env, "bob"), expect=403)
    throttle(api, port, "DELETE", RR_ONE, "carol", "127.0.114.1",
             path_params={**pp, "name": "x.carol.uw"})


def doh_query(name: str = "laptop.alice.uw.dht.") -> bytes:
    import dns.message
    q = dns.message.make_query(name, "A")
    q.id = 0
    return q.to_wire()


def sc_doh_get(env: Env, api: Api):
    import dns.message
    wire = doh_query()
    b64 = base64.urlsafe_b64encode(wire).rstrip(b"=").decode()
    res = api.call(env.uw, "GET", "/dns-query", query=[("dns", b64)], expect=200)
    assert dns.message.from_wire(res.body).rcode() == 3, res  # uw has no such device
    for bad in ("", "!!", b64 + "=", base64.urlsafe_b64encode(wire[:8]).rstrip(b"=").decode()):
        api.call(env.uw, "GET", "/dns-query", query=[("dns", bad)], expect=400)
    res = api.call(env.nolabel.http_port, "GET", "/dns-query", query=[("dns", b64)], expect=200)
    assert dns.message.from_wire(res.body).rcode() == 0, res  # the fixture store's device


def sc_doh_post(env: Env, api: Api):
    import dns.message
    ct = {"Content-Type": "application/dns-message"}
    res = api.call(env.nolabel.http_port, "POST", "/dns-query", headers=ct, body=doh_query(),
                   expect=200)
    assert dns.message.from_wire(res.body).rcode() == 0, res
    res = api.call(env.uw, "POST", "/dns-query", headers=ct, body=doh_query("no.alice.uw.dht."),
                   expect=200)
    assert dns.message.from_wire(res.body).rcode() == 3, res
    api.call(env.uw, "POST", "/dns-query", headers=ct, body=b"\0" * 11, expect=400)
    api.call(env.uw, "POST", "/dns-query", headers=ct, body=b"\0" * 65536, expect=413)
    api.call(env.uw, "POST", "/dns-query", headers={"Content-Type": "application/json"},
             body=doh_query(), expect=415)


SCENARIOS: Dict[str, Callable[[Env, Api], None]] = {
    "dohGet": sc_doh_get,
    "dohPost": sc_doh_post,
    "nicUpdate": sc_nic_update,
    "checkIp": sc_check_ip,
    "getStatus": sc_get_status,
    "getMetrics": sc_get_metrics,
    "getStatusPage": sc_get_status_page,
    "getStatusScript": sc_get_status_script,
    "getStatusStyle": sc_get_status_style,
    "listDevices": sc_list_devices,
    "getDevice": sc_get_device,
    "putDevice": sc_put_device,
    "deleteDevice": sc_delete_device,
    "listRrsets": sc_list_rrsets,
    "getRrset": sc_get_rrset,
    "putRrset": sc_put_rrset,
    "deleteRrset": sc_delete_rrset,
    "listTokens": sc_list_tokens,
    "createToken": sc_create_token,
    "revokeToken": sc_revoke_token,
    "resolveName": sc_resolve,
    "getAgent": sc_get_agent,
    "listNeighbors": sc_list_neighbors,
}


def spec_operations() -> List[Tuple[str, str, str]]:
    """(METHOD, path, operationId) of every operation; one that fails the
    test if the spec cannot be read (never an empty, skipped set)."""
    try:
        doc = Spec(load_spec())
    except Exception as e:  # noqa: BLE001 -- shown by the failing parameter
        return [("?", "?", f"docs/openapi.yaml cannot be read: {e}")]
    ops = sorted((m, p, op.get("operationId", "")) for (m, p), op in doc.ops.items())
    return ops or [("?", "?", "docs/openapi.yaml has no operations")]


def test_every_scenario_is_a_spec_operation(spec):
    ids = {op.get("operationId") for op in spec.ops.values()}
    stale = sorted(set(SCENARIOS) - ids)
    assert not stale, f"scenarios for operations the spec no longer has: {stale}"


@pytest.mark.parametrize("method,path,op_id", spec_operations(),
                         ids=[f"{m} {p}" for m, p, _ in spec_operations()])
def test_live_operation(env, api, spec, method, path, op_id):
    assert method != "?", op_id
    scenario = SCENARIOS.get(op_id)
    assert scenario, (f"{method} {path} ({op_id}) is in the spec but has no live scenario in "
                      f"test_openapi.py: add one")
    before = len(api.seen[(method, path)])
    scenario(env, api)
    codes = api.seen[(method, path)][before:]
    op = spec.op(method, path)
    assert any(200 <= c < 300 for c in codes), f"{method} {path}: no successful request: {codes}"
    if op.get("parameters") or spec.params(method, path) or op.get("security") or op.get("requestBody"):
        assert any(400 <= c < 500 for c in codes), f"{method} {path}: no bad request tried: {codes}"
    if op.get("security"):
        assert 401 in codes, f"{method} {path}: credentials never refused: {codes}"
    untried = sorted(set(op.get("responses", {})) - {str(c) for c in codes})
    if untried:
        print(f"{method} {path}: documented but not produced here: {untried}")
