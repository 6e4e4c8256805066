"""`jwt_decode`, `jwt_sign`, `jwt_verify` (§5.10–§5.12, 3.14+). S24."""
from jqgate.config import checks
from jqgate.errors import Issues, join
from jqgate.nodes.ports import ANY, MAP, OBJECT, STRING, NodePorts
from jqgate.nodes.spec import NodeSpec, boolean, enum, enum_list, integer, string, string_list

ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
              "PS256", "PS384", "PS512", "RS256", "RS384", "RS512")


def check_static_claims(value, location: str, issues: Issues) -> bool:
    """A map of claim name → string."""
    if not checks.check_object(value, location, issues):
        return False
    ok = True
    for key, claim in value.items():
        ok &= checks.check_string(claim, join(location, str(key)), issues, min_len=0)
    return ok


JWT_DECODE = NodeSpec(
    type="jwt_decode",
    ports=NodePorts(self_in=STRING, fields_in={}, fields_in_allowed=False,
                    self_out=OBJECT, fields_out={"header": MAP, "payload": MAP, "signature": STRING},
                    fields_out_allowed=True),
    since="3.14",
)

JWT_SIGN = NodeSpec(
    type="jwt_sign",
    fields={
        "algorithm": enum(*ALGORITHMS),
        "expires_in": integer(minimum=1),
        "not_before": integer(minimum=0),
        "kid": string(),
        "typ": string(),
        "static_claims": check_static_claims,
    },
    required=("algorithm",),
    ports=NodePorts(self_in=OBJECT, fields_in={"claims": MAP, "key": STRING}, fields_in_allowed=True,
                    self_out=OBJECT, fields_out={"token": STRING, "claims": MAP, "header": MAP},
                    fields_out_allowed=True),
    since="3.14",
)

JWT_VERIFY = NodeSpec(
    type="jwt_verify",
    fields={
        "allowed_algorithms": enum_list(*ALGORITHMS),
        "issuers": string_list(),
        "audiences": string_list(),
        "required_claims": string_list(),
        "leeway": integer(minimum=0),
        "validate_exp": boolean(),
        "validate_nbf": boolean(),
    },
    ports=NodePorts(self_in=OBJECT, fields_in={"token": STRING, "key": ANY}, fields_in_allowed=True,
                    self_out=OBJECT, fields_out={"claims": MAP, "header": MAP}, fields_out_allowed=True),
    since="3.14",
)
