"""`tome sweep`: model-centric and data-centric levers in one table with error bars.

config.py (the YAML) -> plan.py (cells and their `tome train` commands) -> variants.py + decontaminate.py (the data
each cell trains on, none of it a copy of a held-out row) -> runner.py (train, evaluate, export each cell; resume)
-> measure.py + answers.py (held-out loss, checks, GGUF per quantization) -> results.py + verdicts.py (records,
effect sizes against seed spread) -> report.py + plots.py (results.md, results.html).
"""
