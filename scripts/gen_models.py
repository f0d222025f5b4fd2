#!/usr/bin/env python3
"""Generate every service model nimbus serves from botocore's service models.

One generator for all services (see SERVICES below). For each service it writes:

* ``crates/<crate>/model/<name>.json``: the compact model the shared front in nimbus-core
  (``nimbus_core::model``) routes, decodes, validates and encodes with: metadata (protocol,
  target prefix, JSON version, XML namespace, signing name), operations (HTTP binding, input,
  output, errors) and shapes with their constraints, members in model order and wire names.
  No documentation text.
* ``crates/<crate>/src/shapes.rs`` (services with ``typed`` operations): one Rust type per shape
  reachable from those operations' inputs and outputs, so handlers take and return typed values
  and the compiler catches a misspelt member.

Both are deterministic, so the test command can regenerate and compare:

    python3 scripts/gen_models.py            # (re)write every file
    python3 scripts/gen_models.py --check    # exit 1 if any committed file is stale
    python3 scripts/gen_models.py --only dynamodb

The models come from the installed botocore, which must be the pinned version.
"""

import argparse
import gzip
import json
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOTOCORE_VERSION = "1.44.8"

IAM_TYPED = [
    "CreateRole", "GetRole", "ListRoles", "DeleteRole", "UpdateRole", "UpdateRoleDescription",
    "UpdateAssumeRolePolicy", "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
    "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies", "PutRolePolicy",
    "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies", "TagRole", "UntagRole", "ListRoleTags",
    "ListInstanceProfilesForRole", "CreatePolicy", "GetPolicy", "DeletePolicy", "ListPolicies",
    "GetPolicyVersion", "ListPolicyVersions",
]

# name -> (botocore service, api version, crate dir, typed operations: None, "*" or a list)
# Typed shapes go to src/shapes.rs, or src/<name>_shapes.rs for a second model in one crate
# (SHAPES_FILE).
SERVICES = {
    "lambda": ("lambda", "2015-03-31", "nimbus-lambda", None),
    "iam": ("iam", "2010-05-08", "nimbus-iam", IAM_TYPED),
    "sts": ("sts", "2011-06-15", "nimbus-iam", ["GetCallerIdentity", "AssumeRole"]),
    "logs": ("logs", "2014-03-28", "nimbus-logs", None),
    "sqs": ("sqs", "2012-11-05", "nimbus-sqs", None),
    "dynamodb": ("dynamodb", "2012-08-10", "nimbus-dynamodb", None),
    "dynamodbstreams": ("dynamodbstreams", "2012-08-10", "nimbus-dynamodb", None),
    "sns": ("sns", "2010-03-31", "nimbus-sns", None),
    "events": ("events", "2015-10-07", "nimbus-events", None),
    "scheduler": ("scheduler", "2021-06-30", "nimbus-scheduler", None),
    "apigateway": ("apigateway", "2015-07-09", "nimbus-apigateway", None),
    "apigatewayv2": ("apigatewayv2", "2018-11-29", "nimbus-apigateway", None),
    "kinesis": ("kinesis", "2013-12-02", "nimbus-kinesis", None),
    "cloudformation": ("cloudformation", "2010-05-15", "nimbus-cloudformation", None),
    "kms": ("kms", "2014-11-01", "nimbus-kms", None),
    "ssm": ("ssm", "2014-11-06", "nimbus-ssm", None),
    "secretsmanager": ("secretsmanager", "2017-10-17", "nimbus-secretsmanager", None),
    "ecr": ("ecr", "2015-09-21", "nimbus-ecr", None),
}

SHAPES_FILE = {"sts": "sts_shapes.rs"}

# Shape-level keys copied verbatim when present.
SHAPE_KEYS = (
    "type",
    "required",
    "enum",
    "min",
    "max",
    "pattern",
    "payload",
    "streaming",
    "sensitive",
    "jsonvalue",
    "timestampFormat",
    "exception",
    "fault",
    "eventstream",
    "event",
    "union",
    "document",
    "flattened",
    "locationName",
)
# Member-level keys copied verbatim when present.
MEMBER_KEYS = (
    "location",
    "locationName",
    "jsonvalue",
    "streaming",
    "idempotencyToken",
    "eventpayload",
    "timestampFormat",
    "flattened",
    "xmlAttribute",
    "queryName",
    "hostLabel",
)
METADATA_KEYS = (
    "apiVersion",
    "endpointPrefix",
    "jsonVersion",
    "protocol",
    "serviceId",
    "signingName",
    "targetPrefix",
    "uid",
    "xmlNamespace",
    "awsQueryCompatible",
)


def botocore_data():
    try:
        import botocore  # noqa: WPS433
    except ImportError:
        sys.exit("botocore is not installed (the test command installs botocore==%s)" % BOTOCORE_VERSION)
    if botocore.__version__ != BOTOCORE_VERSION:
        sys.exit("botocore %s is installed; the models are pinned to %s" % (botocore.__version__, BOTOCORE_VERSION))
    return os.path.join(os.path.dirname(botocore.__file__), "data")


def load(data, service, version):
    base = os.path.join(data, service, version)
    for name in ("service-2.json.gz", "service-2.json"):
        path = os.path.join(base, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as f:
                return json.load(f)
    sys.exit("model %s/%s not found under %s" % (service, version, data))


def number(v):
    # botocore stores some bounds as floats (e.g. 2.0); keep integers integral.
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def convert_shape(shape):
    out = {}
    for key in SHAPE_KEYS:
        if key in shape:
            out[key] = number(shape[key]) if key in ("min", "max") else shape[key]
    if "members" in shape:
        members = []
        for name, member in shape["members"].items():
            m = {"name": name, "shape": member["shape"]}
            for key in MEMBER_KEYS:
                if key in member:
                    m[key] = member[key]
            members.append(m)
        out["members"] = members
    for key in ("member", "key", "value"):
        if key in shape:
            ref = {"shape": shape[key]["shape"]}
            if "locationName" in shape[key]:
                ref["locationName"] = shape[key]["locationName"]
            out[key] = ref
    if "error" in shape:
        out["error"] = {k: shape["error"][k] for k in ("code", "httpStatusCode", "senderFault") if k in shape["error"]}
    return out


def convert_operation(op):
    http = op.get("http", {"method": "POST", "requestUri": "/"})
    out = {
        "method": http["method"],
        "requestUri": http["requestUri"],
        "responseCode": http.get("responseCode", 200),
        "errors": [e["shape"] for e in op.get("errors", [])],
    }
    if "input" in op:
        out["input"] = op["input"]["shape"]
    if "output" in op:
        out["output"] = op["output"]["shape"]
        if "resultWrapper" in op["output"]:
            out["resultWrapper"] = op["output"]["resultWrapper"]
    if op.get("deprecated"):
        out["deprecated"] = True
    if op.get("endpoint", {}).get("hostPrefix"):
        out["hostPrefix"] = op["endpoint"]["hostPrefix"]
    return out


def metadata_text(value):
    # The Rust side reads metadata as strings: namespaces may be {"uri": ...}, flags objects.
    if isinstance(value, dict):
        return value.get("uri", "true")
    return str(value)


def generate_model(model, source):
    meta = model["metadata"]
    doc = {
        "_generated": "Generated by scripts/gen_models.py from %s. Do not edit by hand; rerun the script instead." % source,
        "metadata": {k: metadata_text(meta[k]) for k in METADATA_KEYS if k in meta},
        "operations": {name: convert_operation(op) for name, op in model["operations"].items()},
        "shapes": {name: convert_shape(shape) for name, shape in model["shapes"].items()},
    }
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------
# Typed shapes (Rust).

RUST_KEYWORDS = {
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
    "box", "do", "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
}
# Names the generated module uses itself; a shape with one of these names gets a suffix.
RESERVED_TYPE_NAMES = {"Blob", "Timestamp", "Value", "BTreeMap", "Box", "Option", "String", "Vec", "Default"}


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"[^A-Za-z0-9_]", "_", s).lower()
    if s[0].isdigit():
        s = "n_" + s
    return "r#" + s if s in RUST_KEYWORDS else s


def type_name(shape_name):
    name = re.sub(r"[^A-Za-z0-9_]", "_", shape_name)
    name = name[0].upper() + name[1:]
    return name + "Shape" if name in RESERVED_TYPE_NAMES else name


def variant_name(member):
    name = re.sub(r"[^A-Za-z0-9_]", "_", member)
    return name[0].upper() + name[1:]


def reachable(model, ops):
    shapes = model["shapes"]
    seen = set()

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        shape = shapes[name]
        for member in shape.get("members", {}).values():
            visit(member["shape"])
        for key in ("member", "key", "value"):
            if key in shape:
                visit(shape[key]["shape"])

    for op in ops:
        o = model["operations"][op]
        for key in ("input", "output"):
            if key in o:
                visit(o[key]["shape"])
    return seen


def is_document(shape):
    return shape["type"] == "structure" and shape.get("document")


def rust_type(model, name):
    shape = model["shapes"][name]
    t = shape["type"]
    if is_document(shape):
        return "Value"
    if t == "string":
        return "String"
    if t == "integer":
        return "i32"
    if t == "long":
        return "i64"
    if t in ("float", "double"):
        return "f64"
    if t == "boolean":
        return "bool"
    if t == "blob":
        return "Blob"
    if t == "timestamp":
        return "Timestamp"
    if t == "list":
        return "Vec<%s>" % rust_type(model, shape["member"]["shape"])
    if t == "map":
        return "BTreeMap<String, %s>" % rust_type(model, shape["value"]["shape"])
    return type_name(name)


def cycles_to(model, start, target, memo):
    """Whether `start` reaches `target` through structure members (a boxed field is needed)."""
    key = (start, target)
    if key in memo:
        return memo[key]
    memo[key] = False
    shape = model["shapes"][start]
    found = False
    if shape["type"] == "structure" and not is_document(shape):
        for member in shape.get("members", {}).values():
            child = member["shape"]
            if child == target or cycles_to(model, child, target, memo):
                found = True
                break
    memo[key] = found
    return found


def defaultable(model, name, memo):
    if name in memo:
        return memo[name]
    memo[name] = True
    shape = model["shapes"][name]
    ok = True
    if shape.get("union"):
        ok = False
    elif shape["type"] == "structure" and not is_document(shape):
        required = set(shape.get("required", []))
        for member, ref in shape.get("members", {}).items():
            child = model["shapes"][ref["shape"]]
            if member in required and child["type"] == "structure" and not defaultable(model, ref["shape"], memo):
                ok = False
    memo[name] = ok
    return ok


def generate_shapes(model, name, ops, source):
    names = sorted(n for n in reachable(model, ops) if model["shapes"][n]["type"] == "structure")
    out = [
        "//! Typed shapes of the %s model (%s), for the operations nimbus implements." % (name, source),
        "//! Generated by scripts/gen_models.py. Do not edit by hand; rerun the script instead.",
        "",
        "#![allow(clippy::all, dead_code, non_camel_case_types)]",
        "",
        "#[allow(unused_imports)]",
        "use std::collections::BTreeMap;",
        "",
        "#[allow(unused_imports)]",
        "use nimbus_core::shapes::{Blob, Timestamp};",
        "use serde::{Deserialize, Serialize};",
        "#[allow(unused_imports)]",
        "use serde_json::Value;",
        "",
    ]
    cycle_memo, default_memo = {}, {}
    for shape_name in names:
        shape = model["shapes"][shape_name]
        if is_document(shape):
            continue
        rname = type_name(shape_name)
        members = shape.get("members", {})
        if shape.get("union"):
            out.append("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]")
            out.append("pub enum %s {" % rname)
            for member, ref in members.items():
                ty = rust_type(model, ref["shape"])
                if cycles_to(model, ref["shape"], shape_name, cycle_memo) or ref["shape"] == shape_name:
                    ty = "Box<%s>" % ty
                out.append('    #[serde(rename = "%s")]' % member)
                out.append("    %s(%s)," % (variant_name(member), ty))
            out.append("}")
            out.append("")
            continue
        derive = "Debug, Clone, PartialEq, Serialize, Deserialize"
        if defaultable(model, shape_name, default_memo):
            derive += ", Default"
        out.append("#[derive(%s)]" % derive)
        out.append("pub struct %s {" % rname)
        required = set(shape.get("required", []))
        used = set()
        for member, ref in members.items():
            field = snake(member)
            while field in used:
                field += "_"
            used.add(field)
            ty = rust_type(model, ref["shape"])
            child = model["shapes"][ref["shape"]]
            if child["type"] == "structure" and not is_document(child):
                if ref["shape"] == shape_name or cycles_to(model, ref["shape"], shape_name, cycle_memo):
                    ty = "Box<%s>" % ty
            if member in required:
                out.append('    #[serde(rename = "%s")]' % member)
                out.append("    pub %s: %s," % (field, ty))
            else:
                out.append('    #[serde(rename = "%s", default, skip_serializing_if = "Option::is_none")]' % member)
                out.append("    pub %s: Option<%s>," % (field, ty))
        if out[-1].startswith("pub struct"):
            out[-1] += "}"  # rustfmt's form of an empty struct
        else:
            out.append("}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def protocols(data):
    """Every botocore service's protocol by signing name, so nimbus can answer a service it
    does not emulate in that service's own protocol (XML for S3, SNS, CloudFormation…)."""
    table = {}
    for service in sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d))):
        versions = sorted(v for v in os.listdir(os.path.join(data, service)) if re.match(r"\d{4}-", v))
        if not versions:
            continue
        try:
            meta = load(data, service, versions[-1])["metadata"]
        except SystemExit:
            continue
        entry = {"protocol": meta.get("protocol", "json")}
        if "xmlNamespace" in meta:
            entry["xmlNamespace"] = metadata_text(meta["xmlNamespace"])
        for name in {meta.get("signingName") or meta.get("endpointPrefix"), meta.get("endpointPrefix")} - {None}:
            table.setdefault(name, entry)
    doc = {"_generated": "Generated by scripts/gen_models.py from botocore %s. Do not edit by hand." % BOTOCORE_VERSION,
           "services": table}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def outputs(data, only):
    if not only:
        yield os.path.join(REPO_ROOT, "crates", "nimbus-core", "model", "protocols.json"), protocols(data)
    for name, (service, version, crate, typed) in SERVICES.items():
        if only and name not in only:
            continue
        model = load(data, service, version)
        source = "botocore %s %s/%s" % (BOTOCORE_VERSION, service, version)
        yield os.path.join(REPO_ROOT, "crates", crate, "model", "%s.json" % name), generate_model(model, source)
        if typed:
            ops = sorted(model["operations"]) if typed == "*" else typed
            missing = [op for op in ops if op not in model["operations"]]
            if missing:
                sys.exit("%s: unknown operations %s" % (name, ", ".join(missing)))
            shapes_file = SHAPES_FILE.get(name, "shapes.rs")
            yield os.path.join(REPO_ROOT, "crates", crate, "src", shapes_file), generate_shapes(model, name, ops, source)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed file is stale")
    parser.add_argument("--only", action="append", help="only this service (repeatable)")
    args = parser.parse_args()
    stale = []
    for path, text in outputs(botocore_data(), args.only):
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if args.check:
            stale.append(os.path.relpath(path, REPO_ROOT))
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    if stale:
        sys.stderr.write("stale generated files (run scripts/gen_models.py): %s\n" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
