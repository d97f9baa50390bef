"""crd_check.py CRD_FILE < DOC: validates one YAML document against the openAPIV3Schema of a
CustomResourceDefinition (jsonschema, which kubernetes-validate brings) and refuses fields the
schema does not name. Prints `valid`, or exits non-zero with the reason."""
import sys

import jsonschema
import yaml

crd = yaml.safe_load(open(sys.argv[1]))
schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


# Go's RE2 takes a flag group after `^` (`^(?i)…`); Python's re wants flags first.
def python_patterns(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str) and v.startswith("^(?i)"):
                node[k] = "(?i)^" + v[len("^(?i)"):]
            else:
                python_patterns(v)
    elif isinstance(node, list):
        for v in node:
            python_patterns(v)


def strict(value, schema, path):
    if isinstance(value, dict) and "properties" in schema:
        for k, v in value.items():
            if k not in schema["properties"]:
                sys.exit(f"unknown field {path}.{k}")
            strict(v, schema["properties"][k], f"{path}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            strict(v, schema["items"], f"{path}[{i}]")


python_patterns(schema)
doc = yaml.safe_load(sys.stdin)
jsonschema.validate(doc, schema)
strict(doc, schema, "")
print("valid")
