"""The one test kit: fixtures shared by every folder, `wait_until`, the sandbox's actors and the
builders the suites share. tests/README.md lists its modules."""
