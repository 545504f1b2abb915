"""The generator of the embedded sample (``data/sample.jsonl`` and ``data/sample_truth.json``).

Run it through ``python data/make_sample.py`` (see ``main.py`` for the options). Everything here is our
own: a fixed-seed generator that writes FineTome-shaped conversations from templates and word lists, plants
the cases the curation stages must find, and records them in the truth file. No rows are read from
anywhere. Standard library and numpy, plus the defaults of ``curation/config.py`` and the evaluation
prompts of ``evaluation/prompt_sets.py``; two runs give byte-identical files.

Modules, in the order the data flows:

- ``plan``: the seed, the paths, how many of each kind to plant, the thresholds (from the config defaults)
- ``lexicon``: word lists by template slot; ``writer``: the template engine over one ``random.Random``
- ``topics/``: one module per topic of clean rows; ``rows``: a clean row (topic, system turn, source, score)
- ``measures``: shingling, normalization and the default filters as ratios to their thresholds
- ``plant_duplicates``, ``plant_filters``, ``plant_malformed``: the planted cases of each stage
- ``plant_quality``: the cases of the quality stages (``plant_languages`` over ``lexicon_languages``,
  ``plant_contamination``, ``plant_pii``), appended after the base sample from their own random stream
- ``assemble``: the whole file and its truth; ``verify``: the self-checks; ``main``: the command line
"""
