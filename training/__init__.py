"""Training stage: LoRA / QLoRA fine-tuning (Unsloth + TRL) on a `tome curate` output folder, and export.

Python entry points (the CLI, ``tome train`` / ``tome export``, is a thin layer over them):

* :func:`training.run.train` ``(curated_dir, config, run_dir, *, resume=False) -> RunSummary``
* :func:`training.export.export_run` ``(run_dir, out_dir=None, quantizations=("q8_0", "q4_k_m", "q5_k_m"))``
* :func:`training.config.load_config` ``(path | dict | None, overrides) -> TrainConfig``
"""
