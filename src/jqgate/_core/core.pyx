# cython: language_level=3
"""jqgate's compiled core: one extension built from the files included below.

Each included file holds one runtime concept; declarations shared between them live in the
matching .pxd files so calls between them are C calls.
"""

include "jq_bridge.pyx"
include "http_client.pyx"
include "jq_native.pyx"
