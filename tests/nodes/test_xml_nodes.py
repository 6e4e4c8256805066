"""xml_to_json / json_to_xml (datakit.md §5.8, §5.9, D21): reference vectors, every option,
round trips, and the parser's safety (no entity expansion, no external entities, no network)."""
from __future__ import annotations

import pytest
from lxml import etree

from jqgate.nodes.xml.convert import (JsonToXmlOptions, XmlNodeError, XmlToJsonOptions,
                                      json_to_xml, xml_to_json)

REFERENCE_XML = """<root><name>Alice</name><age>30</age><is_student>false</is_student>
<courses>Math</courses><courses>Science</courses>
<address><street>123 Main St</street><city>Wonderland</city></address>
<null_value>null</null_value></root>"""
REFERENCE_JSON = {"root": {"name": "Alice", "age": 30, "is_student": False,
                           "courses": ["Math", "Science"],
                           "address": {"street": "123 Main St", "city": "Wonderland"},
                           "null_value": None}}
PREFIX = XmlToJsonOptions(attributes_name_prefix="@")
J_PREFIX = JsonToXmlOptions(attributes_name_prefix="@")


def canon(xml: str):
    """Order-insensitive structure of an XML document (§5.9: element order is not promised)."""
    def walk(el):
        kids = sorted((walk(c) for c in el), key=repr)
        return (el.tag, tuple(sorted(el.attrib.items())), (el.text or "").strip(), tuple(kids))
    return walk(etree.fromstring(xml.encode()))


# ------------------------------------------------------------------ xml_to_json

def test_reference_vector_5_8():
    assert xml_to_json(REFERENCE_XML, PREFIX) == REFERENCE_JSON


def test_reference_vector_5_9_json_to_xml():
    xml = json_to_xml(REFERENCE_JSON, J_PREFIX)
    assert canon(xml) == canon(REFERENCE_XML)
    assert "<null_value>null</null_value>" in xml


def test_attributes_with_prefix_and_text_block():
    out = xml_to_json('<a id="7" lang="en">hello<b>x</b></a>', PREFIX)
    assert out == {"a": {"@id": 7, "@lang": "en", "b": "x", "#text": "hello"}}


def test_attributes_block_name():
    o = XmlToJsonOptions(attributes_block_name="#attr")
    assert xml_to_json('<a id="7"><b/></a>', o) == {"a": {"#attr": {"id": 7}, "b": {}}}


def test_block_and_prefix_together_prefix_names_inside_block():
    o = XmlToJsonOptions(attributes_block_name="attrs", attributes_name_prefix="_")
    assert xml_to_json('<a id="x"/>', o) == {"a": {"attrs": {"_id": "x"}}}


def test_custom_text_block_name():
    o = XmlToJsonOptions(attributes_name_prefix="@", text_block_name="value")
    assert xml_to_json('<a id="1">t</a>', o) == {"a": {"@id": 1, "value": "t"}}


def test_text_as_property():
    o = XmlToJsonOptions(attributes_name_prefix="@", text_as_property=True)
    assert xml_to_json("<r><name>Alice</name><n>3</n></r>", o) == \
        {"r": {"name": {"#text": "Alice"}, "n": {"#text": 3}}}


def test_recognize_type_off_keeps_strings():
    o = XmlToJsonOptions(attributes_name_prefix="@", recognize_type=False)
    assert xml_to_json(REFERENCE_XML, o)["root"]["age"] == "30"
    assert xml_to_json(REFERENCE_XML, o)["root"]["null_value"] == "null"


@pytest.mark.parametrize("text,value", [("30", 30), ("-1.5", -1.5), ("1e3", 1000.0), ("true", True),
                                        ("null", None), ("007", "007"), ("1.", "1."), ("+1", "+1"),
                                        ("NaN", "NaN"), (" 42 ", 42)])
def test_type_recognition(text, value):
    assert xml_to_json("<v>%s</v>" % text, PREFIX) == {"v": value}


def test_empty_elements_and_repeated_siblings():
    out = xml_to_json("<r><e/><e></e><one>1</one></r>", PREFIX)
    assert out == {"r": {"e": [{}, {}], "one": 1}}
    out = xml_to_json("<r><x>1</x><x>2</x><x>3</x></r>", PREFIX)
    assert out == {"r": {"x": [1, 2, 3]}}


def test_namespaces_keep_prefix_cdata_comments():
    xml = ('<soap:Envelope xmlns:soap="urn:s"><soap:Body><!-- c --><v><![CDATA[<b>]]></v>'
           '<?pi x?></soap:Body></soap:Envelope>')
    assert xml_to_json(xml, PREFIX) == {"soap:Envelope": {"soap:Body": {"v": "<b>"}}}


def test_encoding_declaration_and_unicode():
    assert xml_to_json('<?xml version="1.0" encoding="UTF-8"?><r>é✓</r>', PREFIX) == {"r": "é✓"}
    assert xml_to_json('<?xml version="1.0" encoding="UTF-8"?><r>é</r>'.encode(), PREFIX) == {"r": "é"}


def test_xpath_single_several_attribute_none():
    doc = '<r><a>1</a><a>2</a><b k="v">z</b></r>'
    o = lambda x: XmlToJsonOptions(attributes_name_prefix="@", xpath=x)
    assert xml_to_json(doc, o("/r/b")) == {"b": {"@k": "v", "#text": "z"}}
    assert xml_to_json(doc, o("//a")) == [{"a": 1}, {"a": 2}]
    assert xml_to_json(doc, o("//b/@k")) == "v"
    assert xml_to_json(doc, o("count(//a)")) == 2
    assert xml_to_json(doc, o("//missing")) is None


def test_bad_xpath_is_a_config_error():
    import jqgate
    from jqgate.errors import ConfigError
    with pytest.raises(ConfigError, match="invalid xpath"):
        jqgate.compile({"nodes": [{"name": "X", "type": "xml_to_json", "attributes_name_prefix": "@",
                                   "xpath": "//[", "input": "request.body"}]})


@pytest.mark.parametrize("doc", ["<r><a></r>", "", "not xml", "<r/><r/>"])
def test_invalid_xml_fails(doc):
    with pytest.raises(XmlNodeError):
        xml_to_json(doc, PREFIX)


@pytest.mark.parametrize("value", [None, 5, {"a": 1}])
def test_non_string_input_fails(value):
    with pytest.raises(XmlNodeError, match="expected an XML document string|input is null"):
        xml_to_json(value, PREFIX)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"""


def test_entity_bombs_are_refused():
    with pytest.raises(XmlNodeError, match="entity declarations are not allowed"):
        xml_to_json(BILLION_LAUGHS, PREFIX)


def test_external_entities_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = '<!DOCTYPE r [<!ENTITY x SYSTEM "file://%s">]><r>&x;</r>' % secret
    with pytest.raises(XmlNodeError):
        xml_to_json(xxe, PREFIX)
    # Even past our declaration check (a parameter entity trick), the parser must not read it.
    from jqgate.nodes.xml.convert import _parser
    root = etree.fromstring(('<!DOCTYPE r SYSTEM "file://%s"><r>ok</r>' % secret).encode(), _parser())
    assert "TOP-SECRET" not in etree.tostring(root).decode()


def test_no_network_dtd(monkeypatch):
    # load_dtd=False and no_network=True: a remote DTD is never fetched (the parse would hang
    # or fail on this machine otherwise); the document converts.
    assert xml_to_json('<!DOCTYPE r SYSTEM "http://198.51.100.1/x.dtd"><r>1</r>', PREFIX) == {"r": 1}


# ------------------------------------------------------------------ json_to_xml

def test_attributes_prefix_block_and_text():
    o = JsonToXmlOptions(attributes_name_prefix="@", attributes_block_name="#attr")
    xml = json_to_xml({"a": {"@id": 1, "#attr": {"lang": "en"}, "#text": "hi", "b": True}}, o)
    el = etree.fromstring(xml)
    assert el.attrib == {"id": "1", "lang": "en"} and el.text == "hi" and el.find("b").text == "true"


def test_custom_text_block_name_json_to_xml():
    o = JsonToXmlOptions(attributes_name_prefix="@", text_block_name="value")
    assert json_to_xml({"a": {"value": "t", "@x": "y"}}, o) == '<a x="y">t</a>'


def test_empty_values_become_empty_elements():
    xml = json_to_xml({"r": {"s": "", "l": [], "o": {}}}, J_PREFIX)
    assert canon(xml) == canon("<r><s/><l/><o/></r>")


def test_root_element_name_wraps():
    o = JsonToXmlOptions(attributes_name_prefix="@", root_element_name="doc")
    assert canon(json_to_xml({"x": 1, "y": [1, 2]}, o)) == canon("<doc><x>1</x><y>1</y><y>2</y></doc>")
    assert json_to_xml('"scalar"', JsonToXmlOptions(attributes_name_prefix="@", root_element_name="d")) \
        == "<d>scalar</d>"
    assert json_to_xml(7, o) == "<doc>7</doc>"


def test_json_string_input_is_parsed():
    assert json_to_xml('{"a": {"b": 1.5}}', J_PREFIX) == "<a><b>1.5</b></a>"


def test_escaping():
    xml = json_to_xml({"a": {"@q": '"<&>', "#text": "<&>"}}, J_PREFIX)
    el = etree.fromstring(xml)
    assert el.get("q") == '"<&>' and el.text == "<&>"


@pytest.mark.parametrize("value,match", [
    ({"a": 1, "b": 2}, "exactly one key"), ({"a": [1, 2]}, "cannot be an array"), ([1], "got array"),
    ({"1a": 1}, "not a valid XML element name"), ({"a": {"b c": 1}}, "not a valid XML element name"),
    ({"a": {"@x": {"y": 1}}}, "must be a scalar"), ("{not json", "not valid JSON"),
    ({"r": {"a": [[1]]}}, "nested array")])
def test_json_to_xml_failures(value, match):
    with pytest.raises(XmlNodeError, match=match):
        json_to_xml(value, J_PREFIX)


ROUND_TRIPS = [
    REFERENCE_JSON,
    {"order": {"@id": 12, "item": [{"@sku": "a1", "qty": 2}, {"@sku": "b2", "qty": 1}],
               "note": "rush", "paid": True}},
    {"a": {"b": {"c": {"d": "deep"}}}},
    {"t": {"@x": "1.5", "#text": "mixed"}},
    {"e": {}},
]


@pytest.mark.parametrize("doc", ROUND_TRIPS)
def test_round_trip_json_xml_json(doc):
    xml = json_to_xml(doc, J_PREFIX)
    back = xml_to_json(xml, PREFIX)
    expected = doc
    if doc == {"t": {"@x": "1.5", "#text": "mixed"}}:
        expected = {"t": {"@x": 1.5, "#text": "mixed"}}      # recognize_type types attributes
    assert back == expected


def test_round_trip_xml_json_xml():
    xml = '<r a="1"><x>1</x><x>2</x><y>text</y><z/></r>'
    assert canon(json_to_xml(xml_to_json(xml, PREFIX), J_PREFIX)) == canon(xml)
