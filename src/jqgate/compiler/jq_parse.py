"""A jq front end for the native subset: tokenizer + recursive-descent parser -> AST.

The parser only ever sees programs libjq has already compiled, so it does not need to report
syntax errors well; what it must never do is *mis-parse* a valid program. Everything it does not
know -- a keyword, an operator, a literal form, a comment it cannot skip with certainty -- raises
NotNative(reason) and the program stays on libjq.

Precedence follows jq 1.8's parser.y, lowest first:
    '|' (right; also `Term as $x | body`)  ','  '//' (right)  '=' '|=' ... (nonassoc)
    'or'  'and'  comparisons (nonassoc)  '+' '-'  '*' '/' '%'  postfix ('?', '.f', '[..]')
A postfix '?' right after an index makes that one index optional (`.a.b?` fails when `.a`
fails, jq 1.8's INDEX_OPT); after any other term it is `try term`.

AST nodes are tuples whose first item is the node kind:
    ("identity",)                       .
    ("index", term, key)                term.key / term["key"] / term[0]; key is str or int
    ("index_opt", term, key)            term.key? / term[0]? (only this index's error is
                                        suppressed, jq 1.8's INDEX_OPT)
    ("try", term)                       term? for any other term, e.g. (.a.b)?
    ("literal", value)                  null, true, false, integer or decimal literal
    ("string", parts)                   parts: tuple of str and AST (interpolations)
    ("array", items)                    [a, b] -> items (a, b); [] -> ()
    ("object", entries)                 entries: tuple of (key AST, value AST)
    ("pipe", a, b) ("comma", a, b) ("alt", a, b) ("and", a, b) ("or", a, b)
    ("binop", op, a, b)                 op: + - * / % == != < <= > >=
    ("assign", op, lhs, rhs)            op: = |= += ...
    ("if", ((cond, then), ...), else)   else is None for `if c then a end`
    ("call", name, args)                args: tuple of AST
    ("var", name)                       $name
    ("bind", source, name, body)        source as $name | body
"""
from __future__ import annotations

import re


class NotNative(Exception):
    """The program (or a part of it) is outside the native subset; str() is the reason."""


_IDENT = re.compile(r"[a-zA-Z_][a-zA-Z_0-9]*")
# Number literals the native path models exactly: small integers and plain decimals. jq keeps a
# literal's text (1.0 prints as 1.0), so any other form stays on libjq.
_INT_LITERAL = re.compile(r"(?:0|[1-9][0-9]{0,14})(?![0-9.eE])")
_DECIMAL_LITERAL = re.compile(r"[0-9]+\.[0-9]+(?![0-9.eE])")
_ANY_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = set("0123456789")
_KEYWORDS = {"as", "def", "if", "then", "elif", "else", "end", "and", "or", "reduce", "foreach",
             "try", "catch", "label", "import", "include", "__loc__"}
# Longest first, so '//=' wins over '//' and '|=' over '|'.
_OPERATORS = ["?//", "//=", "|=", "+=", "-=", "*=", "/=", "%=", "==", "!=", "<=", ">=", "//",
              "..", "|", ",", "+", "-", "*", "/", "%", "=", "<", ">", "(", ")", "[", "]",
              "{", "}", ":", ";", "?", "."]
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_ASSIGNMENTS = {"=", "|=", "+=", "-=", "*=", "/=", "%=", "//="}
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _Parser:
    def __init__(self, source: str):
        self.src = source
        self.pos = 0
        self.tok = None       # (kind, value) of the current token; kinds: op ident field var num str eof
        self.advance()

    # ---- tokens --------------------------------------------------------------------------

    def _skip_blank(self):
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            if c in " \t\r\n":
                self.pos += 1
            elif c == "#":
                end = src.find("\n", self.pos)
                end = len(src) if end < 0 else end
                if "\\" in src[self.pos:end] or "\r" in src[self.pos:end]:
                    # jq 1.8 lets a backslash continue a comment onto the next line.
                    raise NotNative("comment with a backslash")
                self.pos = end
            else:
                return

    def advance(self):
        self._skip_blank()
        src, pos = self.src, self.pos
        if pos >= len(src):
            self.tok = ("eof", None)
            return
        c = src[pos]
        if c == '"':
            self.pos = pos + 1
            self.tok = ("str", self._string_body())
            return
        if c == "$":
            m = _IDENT.match(src, pos + 1)
            if not m or src.startswith("::", m.end()):
                raise NotNative("unsupported variable syntax")
            if m.group() == "__loc__":
                raise NotNative("$__loc__")
            self.pos = m.end()
            self.tok = ("var", m.group())
            return
        if c == "@":
            raise NotNative("format strings (@...)")
        if c in "0123456789" or (c == "." and src[pos + 1:pos + 2] in _DIGITS):
            m = _INT_LITERAL.match(src, pos)
            if m:
                self.pos = m.end()
                self.tok = ("num", int(m.group()))
                return
            m = _DECIMAL_LITERAL.match(src, pos)
            if m:
                value = float(m.group())
                digits = m.group().replace(".", "").lstrip("0")
                if value.is_integer() or len(digits) > 15:
                    raise NotNative("number literal %s (jq keeps its text)" % m.group())
                self.pos = m.end()
                self.tok = ("num", value)
                return
            m = _ANY_NUMBER.match(src, pos)
            raise NotNative("number literal %s" % (m.group() if m else src[pos:pos + 10]))
        m = _IDENT.match(src, pos + 1) if c == "." else None
        if m:
            if src.startswith("::", m.end()):
                raise NotNative("module syntax")
            self.pos = m.end()
            self.tok = ("field", m.group())
            return
        m = _IDENT.match(src, pos)
        if m:
            if src.startswith("::", m.end()):
                raise NotNative("module function call")
            self.pos = m.end()
            self.tok = ("ident", m.group())
            return
        for op in _OPERATORS:
            if src.startswith(op, pos):
                self.pos = pos + len(op)
                self.tok = ("op", op)
                return
        raise NotNative("unexpected character %r" % c)

    def _string_body(self):
        """Read a string literal after its opening quote; return its parts."""
        src = self.src
        parts, buf = [], []
        while True:
            if self.pos >= len(src):
                raise NotNative("unterminated string")
            c = src[self.pos]
            if c == '"':
                self.pos += 1
                break
            if c != "\\":
                buf.append(c)
                self.pos += 1
                continue
            e = src[self.pos + 1:self.pos + 2]
            if e in _ESCAPES:
                buf.append(_ESCAPES[e])
                self.pos += 2
            elif e == "u":
                hexdigits = src[self.pos + 2:self.pos + 6]
                if not re.fullmatch(r"[0-9a-fA-F]{4}", hexdigits):
                    raise NotNative("bad \\u escape")
                code = int(hexdigits, 16)
                if 0xD800 <= code <= 0xDFFF:
                    raise NotNative("surrogate \\u escape in a string literal")
                buf.append(chr(code))
                self.pos += 6
            elif e == "(":
                if buf:
                    parts.append("".join(buf))
                    buf = []
                self.pos += 2
                self.advance()
                parts.append(self.parse_pipe())
                if self.tok != ("op", ")"):
                    raise NotNative("unterminated string interpolation")
                # Do not advance: the string continues right after ')'.
            else:
                raise NotNative("unknown string escape")
        if buf or not parts:
            parts.append("".join(buf))
        return tuple(parts)

    def expect(self, op):
        if self.tok != ("op", op):
            raise NotNative("expected %r" % op)
        self.advance()

    def at(self, op):
        return self.tok == ("op", op)

    def at_ident(self, name):
        return self.tok == ("ident", name)

    # ---- grammar -------------------------------------------------------------------------

    def parse_pipe(self):
        """Exp at the '|' level: `Term as $x | body`, and right-associative pipes."""
        if self.tok[0] == "ident" and self.tok[1] in ("def", "reduce", "foreach", "label", "try",
                                                      "import", "include"):
            raise NotNative("%s is not in the native subset" % self.tok[1])
        left = self.parse_comma()
        if self.at_ident("as"):
            if not _is_term(left):
                raise NotNative("binding of a non-term")
            self.advance()
            if self.tok[0] != "var":
                raise NotNative("destructuring binding")
            name = self.tok[1]
            self.advance()
            if self.at("?//"):
                raise NotNative("destructuring alternative ?//")
            self.expect("|")
            return ("bind", left, name, self.parse_pipe())
        if self.at("|"):
            self.advance()
            return ("pipe", left, self.parse_pipe())
        return left

    def parse_comma(self):
        left = self.parse_alt()
        while self.at(","):
            self.advance()
            left = ("comma", left, self.parse_alt())
        return left

    def parse_alt(self):
        left = self.parse_assign()
        if self.at("//"):
            self.advance()
            return ("alt", left, self.parse_alt())
        return left

    def parse_assign(self):
        left = self.parse_or()
        if self.tok[0] == "op" and self.tok[1] in _ASSIGNMENTS:
            op = self.tok[1]
            self.advance()
            # nonassoc, and its right side binds tighter than '//' in jq's grammar
            right = self.parse_or()
            if self.tok[0] == "op" and self.tok[1] in _ASSIGNMENTS:
                raise NotNative("chained assignment")
            return ("assign", op, left, right)
        return left

    def parse_or(self):
        left = self.parse_and()
        while self.at_ident("or"):
            self.advance()
            left = ("or", left, self.parse_and())
        return left

    def parse_and(self):
        left = self.parse_compare()
        while self.at_ident("and"):
            self.advance()
            left = ("and", left, self.parse_compare())
        return left

    def parse_compare(self):
        left = self.parse_additive()
        if self.tok[0] == "op" and self.tok[1] in _COMPARISONS:
            op = self.tok[1]
            self.advance()
            left = ("binop", op, left, self.parse_additive())
            if self.tok[0] == "op" and self.tok[1] in _COMPARISONS:
                raise NotNative("chained comparison")
        return left

    def parse_additive(self):
        left = self.parse_multiplicative()
        while self.tok[0] == "op" and self.tok[1] in ("+", "-"):
            op = self.tok[1]
            self.advance()
            left = ("binop", op, left, self.parse_multiplicative())
        return left

    def parse_multiplicative(self):
        left = self.parse_postfix()
        while self.tok[0] == "op" and self.tok[1] in ("*", "/", "%"):
            op = self.tok[1]
            self.advance()
            left = ("binop", op, left, self.parse_postfix())
        return left

    def parse_postfix(self):
        if self.at("-"):
            raise NotNative("unary minus")
        # Is the term being built an index written as such (not parenthesised)? jq 1.8 gives
        # `Term FIELD '?'` and `Term '[' .. ']' '?'` an optional index (INDEX_OPT): only that
        # index's own error is suppressed. Any other `Term '?'` is `try Term`.
        kind, value = self.tok
        starts_with_dot = kind == "field" or (kind == "op" and value == ".")
        term = self.parse_primary()
        bare = starts_with_dot and term[0] == "index"
        while True:
            kind, value = self.tok
            if kind == "field":
                self.advance()
                term, bare = ("index", term, value), True
            elif kind == "op" and value == "." and self._next_char() == '"':
                self.advance()
                term, bare = ("index", term, self._plain_string()), True
            elif kind == "op" and value == "[":
                term, bare = ("index", term, self._bracket_key()), True
            elif kind == "op" and value == "?":
                self.advance()
                if bare:
                    term = ("index_opt",) + term[1:]
                else:
                    term = ("try", term)
                bare = False
            else:
                return term

    def _next_char(self):
        return self.src[self.pos:self.pos + 1]

    def _plain_string(self):
        """A string token without interpolation, as a str (for keys and fields)."""
        if self.tok[0] != "str":
            raise NotNative("expected a string")
        parts = self.tok[1]
        if len(parts) != 1 or not isinstance(parts[0], str):
            raise NotNative("interpolated string used as a key")
        self.advance()
        return parts[0]

    def _bracket_key(self):
        self.expect("[")
        if self.at("]"):
            raise NotNative(".[] iterates (multiple results)")
        if self.tok[0] == "str":
            key = self._plain_string()
        elif self.tok[0] == "num" and type(self.tok[1]) is int:
            key = self.tok[1]
            self.advance()
        elif self.at("-"):
            self.advance()
            if self.tok[0] != "num" or type(self.tok[1]) is not int or self.tok[1] == 0:
                raise NotNative("index other than a string or integer literal")
            key = -self.tok[1]
            self.advance()
        else:
            raise NotNative("index other than a string or integer literal")
        if not self.at("]"):
            raise NotNative("slice or computed index")
        self.advance()
        return key

    def parse_primary(self):
        kind, value = self.tok
        if kind == "field":
            self.advance()
            return ("index", ("identity",), value)
        if kind == "op":
            if value == ".":
                self.advance()
                if self.tok[0] == "str":
                    # jq's `'.' String` rule: ."a" (and . "a") index `.`
                    return ("index", ("identity",), self._plain_string())
                if self.at("["):
                    return ("index", ("identity",), self._bracket_key())
                return ("identity",)
            if value == "..":
                raise NotNative("recursive descent ..")
            if value == "(":
                self.advance()
                inner = self.parse_pipe()
                self.expect(")")
                return inner
            if value == "[":
                self.advance()
                if self.at("]"):
                    self.advance()
                    return ("array", ())
                inner = self.parse_pipe()
                self.expect("]")
                return ("array", _flatten_comma(inner))
            if value == "{":
                return self._object()
            raise NotNative("unexpected %r" % value)
        if kind == "num":
            self.advance()
            return ("literal", value)
        if kind == "str":
            self.advance()
            return ("string", value)
        if kind == "var":
            self.advance()
            return ("var", value)
        if kind == "ident":
            if value in ("null", "true", "false"):
                self.advance()
                return ("literal", {"null": None, "true": True, "false": False}[value])
            if value == "if":
                return self._if()
            if value in _KEYWORDS:
                raise NotNative("%s is not in the native subset" % value)
            self.advance()
            args = []
            if self.at("("):
                self.advance()
                args.append(self.parse_pipe())
                while self.at(";"):
                    self.advance()
                    args.append(self.parse_pipe())
                self.expect(")")
            return ("call", value, tuple(args))
        raise NotNative("unexpected end of program")

    def _if(self):
        self.advance()
        branches = []
        cond = self.parse_pipe()
        if not self.at_ident("then"):
            raise NotNative("expected then")
        self.advance()
        branches.append((cond, self.parse_pipe()))
        otherwise = None
        while True:
            if self.at_ident("elif"):
                self.advance()
                cond = self.parse_pipe()
                if not self.at_ident("then"):
                    raise NotNative("expected then")
                self.advance()
                branches.append((cond, self.parse_pipe()))
            elif self.at_ident("else"):
                self.advance()
                otherwise = self.parse_pipe()
                if not self.at_ident("end"):
                    raise NotNative("expected end")
                self.advance()
                break
            elif self.at_ident("end"):
                self.advance()
                break
            else:
                raise NotNative("malformed if")
        return ("if", tuple(branches), otherwise)

    def _object(self):
        self.expect("{")
        entries = []
        while not self.at("}"):
            kind, value = self.tok
            if kind == "ident":
                self.advance()
                key = ("string", (value,))
                if self.at(":"):
                    self.advance()
                    entries.append((key, self._object_value()))
                else:
                    entries.append((key, ("index", ("identity",), value)))
            elif kind == "var":
                self.advance()
                if self.at(":"):
                    raise NotNative("$var used as an object key with a value")
                entries.append((("string", (value,)), ("var", value)))
            elif kind == "str":
                self.advance()
                key = ("string", value)
                if self.at(":"):
                    self.advance()
                    entries.append((key, self._object_value()))
                else:
                    # {"a"} and {"\(x)"}: the key string indexes `.`
                    if len(value) != 1 or not isinstance(value[0], str):
                        raise NotNative("interpolated shorthand object key")
                    entries.append((key, ("index", ("identity",), value[0])))
            elif kind == "num":
                raise NotNative("number as an object key")
            elif kind == "op" and value == "(":
                self.advance()
                key = self.parse_pipe()
                self.expect(")")
                self.expect(":")
                entries.append((key, self._object_value()))
            else:
                raise NotNative("object key form not in the native subset")
            if self.at(","):
                self.advance()
            elif not self.at("}"):
                raise NotNative("malformed object")
        self.advance()
        return ("object", tuple(entries))

    def _object_value(self):
        """DictExpr in jq 1.8's grammar: Exprs (operators down to '//', no ',' and no `as`)
        joined by '|'."""
        value = self.parse_alt()
        while self.at("|"):
            self.advance()
            value = ("pipe", value, self.parse_alt())
        if not (self.at(",") or self.at("}")):
            raise NotNative("object value form not in the native subset")
        return value


def _is_term(node) -> bool:
    return node[0] in ("identity", "index", "index_opt", "try", "literal", "string", "array", "object",
                       "call", "var", "if")


def _flatten_comma(node) -> tuple:
    if node[0] == "comma":
        return _flatten_comma(node[1]) + _flatten_comma(node[2])
    return (node,)


def parse(source: str):
    """The AST of a jq program, or NotNative(reason)."""
    parser = _Parser(source)
    tree = parser.parse_pipe()
    if parser.tok[0] != "eof":
        raise NotNative("unexpected %r" % (parser.tok[1],))
    return tree
