"""Which packages the wheel holds (the rest of the metadata is in pyproject.toml).

Besides the code packages, the repository's ``configs/`` and ``data/`` folders ship inside tomecraft as the
packages ``tomecraft.configs`` and ``tomecraft.sample`` (the folders stay where they are in the checkout), so an
installed tomecraft finds its default configs and the embedded sample (``tomecraft/resources.py``).
"""

from setuptools import find_packages, setup

CODE = find_packages(include=["tomecraft", "tomecraft.*", "curation", "curation.*", "training", "training.*", "sweep", "sweep.*",
                              "serving", "serving.*", "evaluation", "evaluation.*"])
SHIPPED = {"tomecraft.configs": "configs", "tomecraft.sample": "data"}

setup(
    packages=CODE + list(SHIPPED),
    package_dir=SHIPPED,
    package_data={"*": ["*.yaml", "*.txt", "*.json", "*.md"], "tomecraft.configs": ["*.yaml"],
                  "tomecraft.sample": ["sample.jsonl", "sample_truth.json"]},
)
