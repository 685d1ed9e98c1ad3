"""The test suite (a package: modules import the shared kit as `tests.support`)."""
