"""Engines run the registered stages over the input; they know no stage by name.

:mod:`.local` streams batches through the stages on this machine (bounded memory, spill to disk);
:mod:`.ray` runs the same stage code as Ray Data operations. Both cut the pipeline the same way
(:mod:`.plan`), route each stage's output the same way (:mod:`.routing`) and write the same output folder
(:mod:`.output`).
"""
