"""The DataKit compiler: config → validated graph → static execution plan."""
