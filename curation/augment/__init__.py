"""Augmentation stage: paraphrase, synonym replacement and back-translation with provenance."""
