"""Validates JSON lines on stdin against a JSON Schema with the jsonschema package.

usage: python3 validate.py SCHEMA < lines.jsonl
Prints one line per invalid document ("line N: message") and exits 1 if any was invalid.
"""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft202012Validator(schema)
jsonschema.Draft202012Validator.check_schema(schema)
bad = 0
for number, line in enumerate(sys.stdin, 1):
    for error in validator.iter_errors(json.loads(line)):
        print(f"line {number}: {error.message}")
        bad += 1
sys.exit(1 if bad else 0)
