"""`xml_to_json` and `json_to_xml` (§5.8, §5.9, 3.13+). S23."""
from jqgate.errors import Issues
from jqgate.nodes.ports import ANY, STRING, NodePorts
from jqgate.nodes.spec import NodeSpec, boolean, string


def check_attribute_option(node: dict, location: str, issues: Issues) -> None:
    # S23: one of the two attribute options must be set (null counts as unset, as in Kong).
    if node.get("attributes_block_name") is None and node.get("attributes_name_prefix") is None:
        issues.add(location, "At least one of attributes_block_name or attributes_name_prefix is required")


XML_TO_JSON = NodeSpec(
    type="xml_to_json",
    fields={
        "attributes_name_prefix": string(max_len=32),
        "attributes_block_name": string(max_len=32),
        "text_block_name": string(max_len=32),
        "text_as_property": boolean(),
        "recognize_type": boolean(),
        "xpath": string(max_len=256),
    },
    ports=NodePorts(self_in=STRING, fields_in={}, fields_in_allowed=False,
                    self_out=ANY, fields_out={}, fields_out_allowed=False),
    extra_check=check_attribute_option,
    since="3.13",
)

JSON_TO_XML = NodeSpec(
    type="json_to_xml",
    fields={
        "attributes_name_prefix": string(max_len=32),
        "attributes_block_name": string(max_len=32),
        "text_block_name": string(max_len=32),
        "root_element_name": string(max_len=64),
    },
    # user-defined inputs: an object is built from them
    ports=NodePorts(self_in=ANY, fields_in=None, fields_in_allowed=True,
                    self_out=STRING, fields_out={}, fields_out_allowed=False),
    extra_check=check_attribute_option,
    since="3.13",
)
