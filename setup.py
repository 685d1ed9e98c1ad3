"""Computes the `gtm.*` package list for the folder mapping declared in pyproject.toml."""
from setuptools import find_packages, setup

FOLDERS = {"schemas": "gtm.schemas", "sync": "gtm.sync", "bot": "gtm.bot",
           "sandbox": "gtm.sandbox", "benchmarks": "gtm.benchmarks"}

packages = []
for folder, name in FOLDERS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages)
