"""Configuration loading: every form Kong offers for DataKit, into one `GatewayConfig`.

- `load_file(path)`: a Kong declarative file (`jqgate run/check/plan CONFIG`).
- `load_any(path)`: a declarative file or any plugin form (plugins global).
- `quick_start(url, plugin_files)`: `--upstream URL --plugin FILE...`.
- `load_declarative(doc, source)`, `load_plugin_document(doc, source)`: from parsed documents
  (the Admin API uses these for request bodies).
"""
from jqgate.config.declarative import load_declarative
from jqgate.config.loading import load_any, load_file, quick_start
from jqgate.config.model import GatewayConfig, PluginInstance, Route, Service, Target, Upstream
from jqgate.config.plugin_forms import detect_form, load_plugin_document, load_plugin_documents
from jqgate.config.reading import parse_documents, read_documents

__all__ = [
    "load_declarative", "load_any", "load_file", "quick_start", "load_plugin_document",
    "load_plugin_documents", "detect_form", "parse_documents", "read_documents",
    "GatewayConfig", "PluginInstance", "Route", "Service", "Target", "Upstream",
]
