"""The ``cmsync`` command line: parses what the operator typed and prints one answer."""
