"""Where `tome curate` runs: on this machine (``local``) or on a Ray cluster (``ray``).

``local`` is :func:`curation.pipeline.run_curation`: every row in one process, stage after stage.
``ray`` (:func:`curation.engines.ray_engine.run_curation_ray`, ``pip install tomecraft[ray]``) runs the
same stages as Ray Data operations over sharded input and writes the same output contract as shards.
Both keep exactly the same rows, with the same ids, ``duplicate_of`` and splits; Ray is imported only when
that engine is chosen.
"""

ENGINES = ("local", "ray")
