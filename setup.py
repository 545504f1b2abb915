"""Which packages the wheel holds (the rest of the metadata is in pyproject.toml).

Besides the code packages, the repository's ``configs/`` and ``data/`` folders ship inside tomecraft as the
packages ``tomecraft.configs`` and ``tomecraft.sample`` (the folders stay where they are in the checkout), so an
installed tomecraft finds its default configs and the embedded sample's generator (``tomecraft/resources.py``
generates the sample into the tomecraft cache on first use).
"""

from setuptools import find_packages, setup

CODE = find_packages(include=["tomecraft", "tomecraft.*", "curation", "curation.*", "training", "training.*", "sweep", "sweep.*",
                              "serving", "serving.*", "evaluation", "evaluation.*"])
SHIPPED = {"tomecraft.configs": "configs", "tomecraft.sample": "data"}
GENERATOR = ["tomecraft.sample." + p for p in find_packages("data", include=["samplegen", "samplegen.*"])]

setup(
    packages=CODE + list(SHIPPED) + GENERATOR,
    package_dir=SHIPPED,
    package_data={"*": ["*.yaml", "*.txt", "*.json", "*.md"], "tomecraft.configs": ["*.yaml"]},
    exclude_package_data={"tomecraft.sample": ["sample.jsonl", "sample_truth.json"]},  # generated, never shipped
)
