"""The user documentation names every setting with its default and environment names, uses no
internal rule labels, and the README points into docs/ rather than outside the repository."""
from __future__ import annotations

import glob
import os
import re

from jqgate.settings import SETTINGS

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
INTERNAL_LABEL = re.compile(r"\b(?:S\d{1,2}|G\d{1,2}|D\d{1,2})\b|§")


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def test_configuration_reference_lists_every_setting():
    doc = _read("docs/configuration.md")
    for setting in SETTINGS:
        row = next((l for l in doc.splitlines() if l.startswith("| `%s` |" % setting.name)), None)
        assert row is not None, setting.name
        for name in (setting.env,) + setting.kong_env + setting.flags:
            assert "`%s`" % name in row, (setting.name, name)


def test_no_internal_labels_and_no_outside_pointers():
    for path in ["README.md"] + [os.path.relpath(p, ROOT) for p in glob.glob(
            os.path.join(ROOT, "docs", "*.md"))]:
        text = _read(path)
        assert not INTERNAL_LABEL.search(text), (path, INTERNAL_LABEL.search(text).group(0))
        assert "shared/spec" not in text, path
    assert "docs/" in _read("README.md")
