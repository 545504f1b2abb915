"""`tome review`: human review of a curation output folder in Argilla (v2).

Export picks rows of a curation output folder (see :mod:`curation.contract`), turns them into Argilla
records (a chat field, a verdict/quality/corrected-answer form, metadata, a sentence-embedding vector and
suggestions from our heuristics) and either logs them to a live Argilla server or writes them in the
layouts that ``rg.Dataset.to_disk`` and ``rg.Dataset.to_hub`` write. Import reads the annotators'
submitted responses back (live, or from those layouts), takes the majority verdict per row, and writes a
new curation output folder with the verdicts applied and the accounting intact.

Modules, one concern each:

* :mod:`.errors` - the one-line error every user mistake becomes
* :mod:`.offline` - an Argilla client that never touches the network, for building settings offline
* :mod:`.folder` - a curation output folder read as located rows
* :mod:`.selection` - which rows go to review
* :mod:`.signals` - which heuristics fired, whether they disagree
* :mod:`.schema` - the Argilla settings (fields, questions, metadata, vectors, guidelines)
* :mod:`.records` - a row as an Argilla record
* :mod:`.layouts` - the ``to_disk`` / ``to_hub`` layouts, written and read back
* :mod:`.live` - talking to a live server, with clear errors
* :mod:`.verdicts` - annotators' responses to one decision per row (majority vote)
* :mod:`.agreement` - percent agreement, Cohen's and Fleiss' kappa
* :mod:`.apply` - the decisions applied, written as a new curation output folder
* :mod:`.export` - export end to end
* :mod:`.cli` - the ``tome review`` commands
"""
