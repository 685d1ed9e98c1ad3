"""Computes the `gtm.*` package list for the folder mapping declared in pyproject.toml."""
from setuptools import find_packages, setup

FOLDERS = {"schemas": "gtm.schemas", "sync": "gtm.sync", "bot": "gtm.bot",
           "sandbox": "gtm.sandbox", "benchmarks": "gtm.benchmarks"}

# Folders of data files read at run time: packages without code (so setuptools installs them
# as such instead of warning that they are absent); their files are in pyproject's package-data.
DATA_PACKAGES = ["gtm.bot.cards.templates", "gtm.sandbox.console_static"]

packages = []
for folder, name in FOLDERS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]
packages += DATA_PACKAGES

setup(packages=packages)
