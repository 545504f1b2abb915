"""Decontamination: training rows that share word n-grams with an evaluation set are removed (train only).

``eval_sets`` reads the evaluation items (the seed's prompts, `tome eval` prompt sets, user files);
``index`` hashes their word n-grams and matches a column of texts against them in one compiled pass.
"""
