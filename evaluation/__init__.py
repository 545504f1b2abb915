"""`tome eval`: what curation did to the model.

Modules, one concern each:

* :mod:`.checks` - instruction-following checks as pure functions of an answer's text
* :mod:`.prompt_sets` - prompt sets (the seed's three prompts by default) and the checks each one runs
* :mod:`.models` - model arguments (``[LABEL=]MODEL``) and loading weights for scoring
* :mod:`.answers` - several models answer a prompt set with the same generation settings
* :mod:`.heldout` - held-out loss / perplexity on a split of a curation output folder
* :mod:`.tables` - results as JSON, Markdown and a self-contained HTML page
* :mod:`.raw_folder` - the raw side of the raw-vs-curated experiment
* :mod:`.experiment` - the experiment: curate, train raw and curated with one budget, compare
* :mod:`.cli` - the ``tome eval`` commands
"""
