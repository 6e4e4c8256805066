"""Reading a configuration file or text into Python documents, safely.

YAML goes through PyYAML's safe loader (the libyaml-backed `CSafeLoader` when available); JSON
through the stdlib parser. Before building Python objects from YAML, one streaming pass over the
parser events (libyaml keeps its own stack, so this pass cannot overflow ours) enforces:

- a nesting limit (deep documents would exhaust the recursive composer and later walkers);
- an alias budget: the number of nodes aliases add when expanded ("billion laughs" documents
  are rejected before they are built), and no recursive aliases.

Every failure is a `ConfigError` naming the file and, when YAML knows it, the line and column.
"""
from __future__ import annotations

import json
import os
from typing import Any

import yaml

from jqgate.errors import ConfigError, ConfigIssue

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


def kong_number(value: int) -> int | float:
    """Kong reads every number as a Lua double, and jqgate's JSON encoders hold integers up to
    64 bits: an integer beyond that becomes the double Kong would have read (as orjson reads
    the Admin API's bodies). Beyond the double range: OverflowError."""
    return value if INT64_MIN <= value <= INT64_MAX else float(value)


class _KongNumberLoader(_BASE_LOADER):
    """The safe loader, with integers read as `kong_number`."""

    def construct_yaml_int(self, node):
        return kong_number(super().construct_yaml_int(node))


_KongNumberLoader.add_constructor("tag:yaml.org,2002:int", _KongNumberLoader.construct_yaml_int)
YAML_LOADER = _KongNumberLoader
MAX_FILE_BYTES = 64 * 1024 * 1024   # JSON parses at ~30 MB/s: a 64 MB file loads in ~2 s
# PyYAML builds a Python object per node and manages about 0.6 MB/s even with libyaml, so a
# larger YAML file is refused at once rather than loaded for tens of seconds. JSON is valid
# YAML too: huge configurations load fast written as JSON.
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 200
MAX_ALIAS_EXPANSION = 10_000       # extra nodes all aliases together may add


def fail(source: str, message: str) -> ConfigError:
    return ConfigError([ConfigIssue(source, message)])


def read_documents(path: str) -> list[Any]:
    """Every document in the file at `path` (YAML may hold several, separated by `---`)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise fail(path, f"file is too large ({size} bytes; the limit is {MAX_FILE_BYTES})")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise fail(path, f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(path, f"not UTF-8 text (byte {exc.start})") from None
    return parse_documents(text, path)


def parse_documents(text: str, source: str) -> list[Any]:
    """Parse YAML or JSON text; non-empty list of documents, `None` documents removed."""
    if len(text) > MAX_FILE_BYTES:
        raise fail(source, f"document is too large (the limit is {MAX_FILE_BYTES} bytes)")
    stripped = text.lstrip()
    if not stripped or all(line.lstrip().startswith("#") or not line.strip()
                           for line in stripped.splitlines()):
        raise fail(source, "the configuration is empty")
    if stripped[0] in "{[":
        # JSON first: faster and exact; YAML is a fallback for flow-style YAML.
        try:
            document = json.loads(text, parse_int=lambda digits: kong_number(int(digits)))
        except OverflowError:
            raise fail(source, "a number is beyond the range of a double") from None
        except RecursionError:
            raise fail(source, f"nested too deeply (the limit is {MAX_DEPTH} levels)") from None
        except ValueError as exc:
            # Not JSON. Flow-style YAML also starts with a bracket, so YAML gets its turn,
            # except for .json files and texts too large for YAML: report the JSON error.
            if source.endswith(".json") or len(text) > MAX_YAML_BYTES:
                raise fail(source, f"line {exc.lineno}, column {exc.colno}: not valid JSON: "
                                   f"{exc.msg}") from None
        else:
            check_depth(document, source)
            return [document]
    if len(text) > MAX_YAML_BYTES:
        raise fail(source, f"YAML configuration is too large ({len(text)} characters; YAML is "
                           f"limited to {MAX_YAML_BYTES}); write it as JSON, which loads fast "
                           f"up to {MAX_FILE_BYTES} bytes")
    check_yaml_events(text, source)
    try:
        documents = list(yaml.load_all(text, Loader=YAML_LOADER))
    except yaml.YAMLError as exc:
        raise fail(source, yaml_message(exc)) from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise fail(source, f"cannot be loaded as YAML: {exc}") from None
    documents = [document for document in documents if document is not None]
    if not documents:
        raise fail(source, "the configuration is empty")
    return documents


def yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}not valid YAML or JSON: {problem}"


def check_yaml_events(text: str, source: str) -> None:
    """Streaming pass: nesting depth, alias expansion budget, recursive aliases."""
    depth = 0
    events = 0                       # nodes as written
    expanded = 0                     # extra nodes aliases add
    anchor_size: dict[str, int] = {}
    open_anchors: list[tuple[str | None, int]] = []   # per open collection: (anchor, start count)
    try:
        for event in yaml.parse(text, Loader=YAML_LOADER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                events += 1
                if depth > MAX_DEPTH:
                    raise fail(source, at(event, f"nested too deeply (the limit is {MAX_DEPTH} levels)"))
                open_anchors.append((event.anchor, events + expanded))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                anchor, start = open_anchors.pop()
                if anchor is not None:
                    anchor_size[anchor] = events + expanded - start + 1
            elif isinstance(event, yaml.ScalarEvent):
                events += 1
                if event.anchor is not None:
                    anchor_size[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchor_size:
                    if any(anchor == event.anchor for anchor, _ in open_anchors):
                        raise fail(source, at(event, f'recursive alias "*{event.anchor}" is not allowed'))
                    continue          # undefined alias: the loader reports it with its position
                expanded += anchor_size[event.anchor]
                if expanded > MAX_ALIAS_EXPANSION:
                    raise fail(source, at(event, "YAML aliases expand to more than "
                                                 f"{MAX_ALIAS_EXPANSION} nodes; write the values out"))
    except yaml.YAMLError as exc:
        raise fail(source, yaml_message(exc)) from None


def at(event: Any, message: str) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: {message}" if mark else message


def check_depth(document: Any, source: str) -> None:
    """Iterative nesting check for JSON documents (no recursion of our own)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise fail(source, f"nested too deeply (the limit is {MAX_DEPTH} levels)")
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values()
                         if isinstance(child, (dict, list)))
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value if isinstance(child, (dict, list)))
