"""What a DataKit jq program may not use, checked when the program is compiled.

The libjq bridge (jqgate._core jq/bridge.pyx) applies this to every JqProgram it compiles: first
refused_before_compiling(source) (module directives, before libjq would look for files), then it
compiles PROBE_DEFINITIONS + source, and env_refusal(source) on success or violations(source,
libjq's messages) on failure. Nothing here runs per request.

Programs: rejected at compile time, with a JqCompileError naming the reason --
  $ENV, env                 would expose the gateway's environment (secrets) to configs.
  input, inputs             a DataKit jq node has exactly one input, `.`; there is no stream.
  halt, halt_error          stop the jq process, which here is the gateway; use error(...).
  input_filename, input_line_number   there is no input file.
  import, include, module, modulemeta, get_search_list, get_prog_origin, get_jq_origin
                            jq modules would read files from the gateway's disk.
  Allowed: $__loc__ (constant), debug and stderr (identity; libjq drops the message because
  no callback is installed), now/mktime/strftime and friends, regexes (oniguruma).
Detection of builtin calls uses jq's own binder, so it cannot be fooled by syntax: the program
is compiled a second time after definitions of the forbidden names whose bodies call undefined
functions; jq binds every call of the builtin to our definition and reports it, while a
program's own `def env: ...` shadows ours and stays allowed. `$ENV` cannot be shadowed that way,
so it is found by a scan of the program text that skips strings (not their interpolations) and
comments; the variable name is refused even when the program binds it itself.
"""
from __future__ import annotations

import re

_ENV_MESSAGE = ("$ENV and env are not available in DataKit jq programs: "
                "they would expose the gateway's environment")
_FORBIDDEN_BUILTINS = {
    # name: (arities, reason)
    "env": ((0,), None),
    "input": ((0,), "a jq node has exactly one input, `.`"),
    "inputs": ((0,), "a jq node has exactly one input, `.`"),
    "halt": ((0,), "it would stop the gateway's jq engine; use error(...) to fail the node"),
    "halt_error": ((0, 1), "it would stop the gateway's jq engine; use error(...) to fail the node"),
    "input_filename": ((0,), "the input is not read from a file"),
    "input_line_number": ((0,), "the input is not read from a file"),
    "modulemeta": ((0,), "jq modules are not available"),
    "get_search_list": ((0,), "jq modules are not available"),
    "get_prog_origin": ((0,), "jq modules are not available"),
    "get_jq_origin": ((0,), "jq modules are not available"),
}
_PROBE_PREFIX = "__jqgate_forbidden_"
PROBE_DEFINITIONS = "".join(
    "def %s%s: %s%s; " % (name, "(%s)" % "; ".join("p%d" % i for i in range(arity)) if arity else "",
                          _PROBE_PREFIX, name)
    for name, (arities, _) in _FORBIDDEN_BUILTINS.items() for arity in arities
)  # no newline: the program keeps its own line numbers ($__loc__), as it runs with these in front
_PROBE_HIT = re.compile(re.escape(_PROBE_PREFIX) + r"([A-Za-z_0-9]+)/0 is not defined")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
_BINDING = re.compile(r"\$(?:[a-zA-Z_][a-zA-Z_0-9]*::)*[a-zA-Z_][a-zA-Z_0-9]*")
_BLANK = " \t\r\n"


def _forbidden_message(name):
    reason = _FORBIDDEN_BUILTINS[name][1]
    if reason is None:
        return _ENV_MESSAGE
    return "%s is not available in DataKit jq programs: %s" % (name, reason)


def _skip_comment(source: str, i: int) -> int:
    """Index just past the jq comment starting at source[i] == '#'. As in jq's lexer, a
    backslash before a newline continues the comment, and a doubled backslash is literal."""
    n = len(source)
    i += 1
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and source[i + 1] in "\\\n":
            i += 2
        elif c == "\\" and source.startswith("\r\n", i + 1):
            i += 3
        elif c == "\n":
            return i + 1
        else:
            i += 1
    return n


def _first_word(source: str) -> str:
    """The first token of the program when it is a word (jq directives can only come first)."""
    i = 0
    n = len(source)
    while i < n:
        if source[i] in _BLANK:
            i += 1
        elif source[i] == "#":
            i = _skip_comment(source, i)
        else:
            break
    start = i
    while i < n and _IDENT_CHAR.match(source, i):
        i += 1
    return source[start:i]


def _variables_used(source: str) -> set[str]:
    """Names of the `$variables` in the program's code: outside string literals (but inside
    their \\( ... ) interpolations) and outside comments."""
    i = 0
    n = len(source)
    names = set()
    # One entry per string interpolation being read: how many '(' are open inside it.
    interpolations = []
    in_string = False
    while i < n:
        c = source[i]
        if in_string:
            if c == "\\":
                if source.startswith("(", i + 1):
                    interpolations.append(0)
                    in_string = False
                i += 2
            elif c == '"':
                in_string = False
                i += 1
            else:
                i += 1
        elif c == '"':
            in_string = True
            i += 1
        elif c == "#":
            i = _skip_comment(source, i)
        elif c == "$":
            match = _BINDING.match(source, i)
            if match is None:
                i += 1
            else:
                names.add(match.group()[1:])
                i = match.end()
        elif c == "(" and interpolations:
            interpolations[-1] += 1
            i += 1
        elif c == ")" and interpolations:
            if interpolations[-1] == 0:
                interpolations.pop()
                in_string = True  # back in the string the interpolation opened from
            else:
                interpolations[-1] -= 1
            i += 1
        else:
            i += 1
    return names


def violations(source: str, messages: list[str]) -> list[str]:
    """Messages for everything in a program that DataKit does not allow, given libjq's
    messages from compiling it behind the probe definitions (empty when that compiled)."""
    problems = []
    first = _first_word(source)
    if first in ("import", "include", "module"):
        return ["%s is not available in DataKit jq programs: jq modules are not available"
                % first]
    if "ENV" in _variables_used(source):
        problems.append(_ENV_MESSAGE)
    hits = []
    for message in messages:
        for name in _PROBE_HIT.findall(message):
            if name in _FORBIDDEN_BUILTINS and name not in hits:
                hits.append(name)
    if messages and not hits:
        # The program compiled alone but not after our definitions: fail closed.
        return ["jq program could not be checked for builtins DataKit does not allow: "
                + "; ".join(messages)]
    for name in hits:
        message = _forbidden_message(name)
        if message not in problems:
            problems.append(message)
    return problems


def refused_before_compiling(source: str) -> list[str]:
    """The refusal of a program that starts with a jq module directive (import, include,
    module), which libjq would resolve by reading files; empty for any other program."""
    if _first_word(source) in ("import", "include", "module"):
        return violations(source, [])
    return []


def env_refusal(source: str) -> list[str]:
    """The refusal of a program that compiled behind the probes but names $ENV."""
    if "ENV" in _variables_used(source):
        return [_ENV_MESSAGE]
    return []
