"""`xml_to_json` and `json_to_xml` (datakit.md §5.8, §5.9, D21), executor-independent.

XML is parsed with lxml locked down: no entity expansion (`resolve_entities=False`), no DTD
loading, no network, no huge trees; a document that *declares* entities is refused outright, so a
"billion laughs" or XXE payload fails the node instead of being half-processed.

xml_to_json (§5.8), the shapes pinned by the reference vector and D21:
- the result is `{<root name>: <root value>}`;
- an element with neither attributes nor child elements is a leaf: its text (whitespace-trimmed;
  typed by `recognize_type`), or `{}` when it has no text (`<a/>`, `<a></a>`);
- otherwise an object: attributes (as `<prefix><name>` keys, or grouped under
  `attributes_block_name`), one key per child element name (repeated siblings -> array, in
  document order), and the element's own non-whitespace text under `text_block_name`;
- `text_as_property: true` puts leaf text under `text_block_name` too (`{"#text": "Alice"}`);
- `recognize_type` (default true) turns JSON-number-shaped text into numbers and
  `true` / `false` / `null` into their JSON values (attribute values too); `"007"` stays a string;
- `xpath` (D21): evaluated on the parsed document; one selected element -> `{name: value}` as if
  it were the root; several -> a list of those objects; attribute / text / number / string results
  are returned as (typed) scalars; nothing selected -> null. An invalid expression fails the node.
- qualified names keep their prefix (`soap:Envelope`); comments and processing instructions
  are ignored; CDATA is text.

json_to_xml (§5.9, D21):
- input: any JSON value; a string is parsed as JSON first (not valid JSON -> node failure);
- with `root_element_name`, the value becomes the content of that root element; without it, the
  value must be an object with exactly one key (the root element), whose value is not a list;
- object key -> child element, list -> repeated elements of that name (an empty list -> one
  empty element), `null` -> text `null`, booleans -> `true`/`false`, numbers -> shortest text,
  `""` / `{}` -> empty element;
- `<prefix><name>` keys and the entries of the `attributes_block_name` object become attributes
  (scalars only); the `text_block_name` key becomes the element's text;
- element and attribute names must be valid XML names, else the node fails.
The output is the XML text without declaration; sinks give it `application/xml` (D11).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import orjson
from lxml import etree

from jqgate.json_types import json_type_name
from jqgate.nodes.failure import NodeFailure

DEFAULT_TEXT_BLOCK = "#text"
MAX_XML_BYTES = 64 * 1024 * 1024          # refuse to parse absurd bodies outright
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


class XmlNodeError(NodeFailure):
    """A conversion failure: the node fails with this text."""


@dataclass(frozen=True)
class XmlToJsonOptions:
    attributes_name_prefix: str | None = None
    attributes_block_name: str | None = None
    text_block_name: str = DEFAULT_TEXT_BLOCK
    text_as_property: bool = False
    recognize_type: bool = True
    xpath: str | None = None

    @classmethod
    def from_config(cls, cfg: dict) -> "XmlToJsonOptions":
        return cls(cfg.get("attributes_name_prefix"), cfg.get("attributes_block_name"),
                   cfg.get("text_block_name") or DEFAULT_TEXT_BLOCK,
                   bool(cfg.get("text_as_property", False)),
                   cfg.get("recognize_type", True) is not False, cfg.get("xpath"))


@dataclass(frozen=True)
class JsonToXmlOptions:
    attributes_name_prefix: str | None = None
    attributes_block_name: str | None = None
    text_block_name: str = DEFAULT_TEXT_BLOCK
    root_element_name: str | None = None

    @classmethod
    def from_config(cls, cfg: dict) -> "JsonToXmlOptions":
        return cls(cfg.get("attributes_name_prefix"), cfg.get("attributes_block_name"),
                   cfg.get("text_block_name") or DEFAULT_TEXT_BLOCK, cfg.get("root_element_name"))


def compile_xpath(expression: str) -> etree.XPath:
    """Load-time check of `xml_to_json.xpath` (raises XmlNodeError)."""
    try:
        return etree.XPath(expression)
    except etree.XPathSyntaxError as e:
        raise XmlNodeError("invalid xpath %r: %s" % (expression, e)) from None


# ------------------------------------------------------------------------------ parsing

def _parser() -> etree.XMLParser:
    # A new parser per document: lxml parsers are not safe to share across threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True, strip_cdata=True)


def parse_xml(text) -> etree._Element:
    if text is None:
        raise XmlNodeError("xml_to_json: input is null, expected an XML document string")
    if isinstance(text, str):
        data = text.encode("utf-8")
    elif isinstance(text, (bytes, bytearray)):
        data = bytes(text)
    else:
        raise XmlNodeError("xml_to_json: expected an XML document string, got %s" % json_type_name(text))
    if len(data) > MAX_XML_BYTES:
        raise XmlNodeError("xml_to_json: document larger than %d bytes" % MAX_XML_BYTES)
    if _ENTITY_DECL.search(data):
        raise XmlNodeError("xml_to_json: XML entity declarations are not allowed")
    if isinstance(text, str):
        # lxml refuses str input that carries an encoding declaration; the bytes are UTF-8.
        data = re.sub(rb"^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*[\"'][^\"']*[\"']", rb"\1", data, count=1)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise XmlNodeError("xml_to_json: invalid XML: %s" % e) from None
    if root is None:
        raise XmlNodeError("xml_to_json: empty XML document")
    return root


# ------------------------------------------------------------------------------ XML -> JSON

def typed(text: str, recognize: bool):
    if not recognize:
        return text
    if text == "true":
        return True
    if text == "false":
        return False
    if text == "null":
        return None
    if _NUMBER.fullmatch(text):
        if "." in text or "e" in text or "E" in text:
            f = float(text)
            return f if math.isfinite(f) else text
        return int(text)
    return text


def _name(node) -> str:
    q = etree.QName(node)
    return "%s:%s" % (node.prefix, q.localname) if node.prefix else q.localname


def _attr_name(key: str, node) -> str:
    if key.startswith("{"):
        q = etree.QName(key)
        for prefix, uri in (node.nsmap or {}).items():
            if uri == q.namespace and prefix:
                return "%s:%s" % (prefix, q.localname)
        return q.localname
    return key


def _element(node, o: XmlToJsonOptions):
    children = [c for c in node if isinstance(c.tag, str)]
    attrs = {_attr_name(k, node): typed(v, o.recognize_type) for k, v in node.attrib.items()}
    own_text = "".join([node.text or ""] + [c.tail or "" for c in node]).strip()
    if not children and not attrs:
        if not own_text:
            return {}
        value = typed(own_text, o.recognize_type)
        return {o.text_block_name: value} if o.text_as_property else value
    out: dict = {}
    if attrs:
        if o.attributes_block_name is not None:
            prefix = o.attributes_name_prefix or ""
            out[o.attributes_block_name] = {prefix + k: v for k, v in attrs.items()}
        else:
            for k, v in attrs.items():
                out[(o.attributes_name_prefix or "") + k] = v
    lists: set[str] = set()          # keys that already hold a list of repeated siblings
    for child in children:
        key = _name(child)
        value = _element(child, o)
        if key not in out:
            out[key] = value
        elif key in lists:
            out[key].append(value)
        else:
            out[key] = [out[key], value]
            lists.add(key)
    if own_text:
        out[o.text_block_name] = typed(own_text, o.recognize_type)
    return out


def _xpath_result(result, o: XmlToJsonOptions):
    if isinstance(result, list):
        items = [_xpath_item(x, o) for x in result]
        if not items:
            return None
        return items[0] if len(items) == 1 else items
    return _xpath_item(result, o)


def _xpath_item(x, o: XmlToJsonOptions):
    if isinstance(x, etree._Element):
        return {_name(x): _element(x, o)}
    if isinstance(x, bool):
        return x
    if isinstance(x, float):
        return int(x) if x.is_integer() else x
    return typed(str(x).strip(), o.recognize_type)        # attribute values and text nodes


def xml_to_json(text, o: XmlToJsonOptions, xpath: etree.XPath | None = None):
    root = parse_xml(text)
    if o.xpath:
        compiled = xpath if xpath is not None else compile_xpath(o.xpath)
        try:
            result = compiled(root.getroottree())
        except etree.XPathError as e:
            raise XmlNodeError("xml_to_json: xpath %r failed: %s" % (o.xpath, e)) from None
        return _xpath_result(result, o)
    return {_name(root): _element(root, o)}


# ------------------------------------------------------------------------------ JSON -> XML

def _text(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e17 else repr(v)
    if isinstance(v, (int, str)):
        return str(v)
    raise XmlNodeError("json_to_xml: cannot write %s as text" % json_type_name(v))


def _check_name(name: str, what: str) -> str:
    # lxml validates the XML NCName production (no namespace prefixes: nothing declares them).
    try:
        etree.Element(name)
    except ValueError:
        raise XmlNodeError("json_to_xml: %r is not a valid XML %s name" % (name, what)) from None
    return name


def _set_attr(el, name: str, value) -> None:
    if isinstance(value, (dict, list)):
        raise XmlNodeError("json_to_xml: attribute %r must be a scalar, got %s"
                           % (name, json_type_name(value)))
    el.set(_check_name(name, "attribute"), _text(value))


def _fill(el, value, o: JsonToXmlOptions) -> None:
    if isinstance(value, dict):
        for key, v in value.items():
            key = str(key)
            if o.attributes_block_name is not None and key == o.attributes_block_name:
                if not isinstance(v, dict):
                    raise XmlNodeError("json_to_xml: %r must be an object of attributes" % key)
                for ak, av in v.items():
                    _set_attr(el, str(ak), av)
            elif o.attributes_name_prefix and key.startswith(o.attributes_name_prefix) \
                    and len(key) > len(o.attributes_name_prefix):
                _set_attr(el, key[len(o.attributes_name_prefix):], v)
            elif key == o.text_block_name:
                if isinstance(v, (dict, list)):
                    raise XmlNodeError("json_to_xml: %r must be a scalar" % key)
                el.text = (el.text or "") + _text(v)
            else:
                # an empty list still writes one (empty) element, like "" and {}
                for item in (v if isinstance(v, list) else [v]) or [""]:
                    _fill(etree.SubElement(el, _check_name(key, "element")), item, o)
        return
    if isinstance(value, list):
        raise XmlNodeError("json_to_xml: a nested array needs an element name")
    if value == "":
        return
    el.text = _text(value)


def json_to_xml(value, o: JsonToXmlOptions) -> str:
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as e:
            raise XmlNodeError("json_to_xml: input string is not valid JSON: %s"
                               % str(e).split(":", 1)[0]) from None
    if o.root_element_name:
        if isinstance(value, list):
            raise XmlNodeError("json_to_xml: an array cannot be the content of the root element; "
                               "wrap it in an object")
        root = etree.Element(_check_name(o.root_element_name, "element"))
        _fill(root, value, o)
    else:
        if not isinstance(value, dict) or len(value) != 1:
            raise XmlNodeError("json_to_xml: without root_element_name the input must be an object "
                               "with exactly one key (the root element), got %s"
                               % (json_type_name(value) if not isinstance(value, dict)
                                  else "%d keys" % len(value)))
        name, content = next(iter(value.items()))
        if isinstance(content, list):
            raise XmlNodeError("json_to_xml: the root element %r cannot be an array "
                               "(a document has one root); set root_element_name" % name)
        root = etree.Element(_check_name(str(name), "element"))
        _fill(root, content, o)
    return etree.tostring(root, encoding="unicode")
