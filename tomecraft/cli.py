"""`tome`: one command, a subcommand per stage.

Each stage package owns its commands in its own ``cli.py`` and exposes ``register(app)``; this module only
assembles them, so heavy libraries (torch, gradio, argilla) load only when their command runs.
"""

from __future__ import annotations

import importlib
import os

# OpenBLAS (NumPy's and SciPy's copies) lets an idle worker thread spin for 2**28 cycles before it sleeps, after
# the library loads and after every call: about 0.1 s of a core per library per process, taken from the work on
# a small machine. A short spin (2**4 cycles) keeps its threads and costs a wake-up of microseconds per call.
# Set before NumPy loads; a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import typer  # noqa: E402

app = typer.Typer(
    name="tome",
    help=(
        "tomecraft: curate chat fine-tuning data, review it in Argilla, fine-tune on it, and talk to the result.\n\n"
        "Data flows one way, as files: `tome curate` -> `tome review` -> `tome train` -> `tome export` -> `tome serve`."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)

STAGE_CLIS = (
    "curation.cli",
    "curation.review.cli",
    "curation.report.cli",
    "curation.publish",
    "training.cli",
    "serving.cli",
    "evaluation.cli",
    "sweep.cli",
)

for _module in STAGE_CLIS:
    importlib.import_module(_module).register(app)


@app.command("version")
def version() -> None:
    """Print tomecraft's version."""
    from importlib.metadata import version as _v

    typer.echo(_v("tomecraft"))


def main() -> None:  # pragma: no cover - the console script; tests call ``app``
    """The `tome` command: ``app``, then the process ends without the interpreter's teardown
    (:mod:`tomecraft.process`)."""
    from tomecraft.process import exit_now

    try:
        app()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    exit_now(code)


if __name__ == "__main__":  # pragma: no cover
    main()
