"""The curation core: what a stage is (:mod:`.stage`), the stage registry (:mod:`.registry`), Arrow helpers
every stage shares (:mod:`.columns`), the keep policy of duplicate clusters (:mod:`.keep_policy`) and the run
bookkeeping (:mod:`.bookkeeping`). The engines in :mod:`curation.engines` run stages; stages never know which."""
