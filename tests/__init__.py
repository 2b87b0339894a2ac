"""The test suite (a package, so child processes can run ``python -m tests._workers``)."""
