"""Stable ids for entities written without one, so reloading the same file gives the same ids."""
import uuid

# A fixed namespace: ids are uuid5(namespace, "<kind>:<key>").
JQGATE_NAMESPACE = uuid.UUID("6f1c0e0a-3d55-4c8e-9a51-2f6a8a3b9c11")


def stable_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(JQGATE_NAMESPACE, f"{kind}:{key}"))
