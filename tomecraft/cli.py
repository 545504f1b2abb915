"""`tome`: one command, a subcommand per stage.

Each stage package owns its commands in its own ``cli.py`` and exposes ``register(app)``; this module only
assembles them, so heavy libraries (torch, gradio, argilla) load only when their command runs.
"""

from __future__ import annotations

import gc
import importlib
import os

# The imports below (typer, rich, pyarrow, pydantic, every command's module) make some hundred thousand objects that
# live as long as the process; the cyclic collector would walk them again and again as they come (a few percent of
# a short run). It is off while they load, then what they made is moved out of its sight (``gc.freeze``: reference
# counting still frees what is dropped) and it is on again for the command's own objects.
gc.disable()

# OpenBLAS (NumPy's and SciPy's copies) lets an idle worker thread spin for 2**28 cycles before it sleeps, after
# the library loads and after every call: about 0.1 s of a core per library per process, taken from the work on
# a small machine. A short spin (2**4 cycles) keeps its threads and costs a wake-up of microseconds per call.
# Set before NumPy loads; a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import sys  # noqa: E402
from typing import Any, NoReturn  # noqa: E402

import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

# Click's error classes, which typer may vendor (typer._click): reached through typer's public BadParameter
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _stop(message: str, code: int) -> NoReturn:
    from tomecraft.console import error

    error(message, code)
    sys.exit(code)  # (error exits; this says so to the type checker)


def _output_failed(exc: OSError) -> None:
    from tomecraft.console import exit_if_output_failed

    exit_if_output_failed(exc)


class OneLineErrors(TyperGroup):
    """The `tome` group: a command line Click cannot parse (an unknown option, a missing value) and a Ctrl-C are
    one ``error:`` line, as every other problem a command reports, not Click's framed usage text or silence. A
    standard stream that fails (a reader that went away, a full disk) ends the command as
    :func:`tomecraft.console.exit_if_output_failed` says, where Click would exit 1 silently on a closed pipe and
    show a traceback for the rest."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _CLICK_ERROR as exc:  # (an option's missing value is raised before the context exists)
            self._usage_error(exc, " ".join(filter(None, (parent.command_path if parent else None, info_name))))
        except OSError as exc:  # (--help is printed while the context is made)
            _output_failed(exc)
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _CLICK_ERROR as exc:  # (a subcommand's option without its value has no context of its own)
            self._usage_error(exc, " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand))))
        except KeyboardInterrupt:
            _stop("interrupted", 130)
        except OSError as exc:
            _output_failed(exc)
            raise

    @staticmethod
    def _usage_error(exc: Any, command_path: str = "") -> NoReturn:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `tome` alone (or `tome review`): Click prints the help
            raise exc
        ctx = getattr(exc, "ctx", None)
        command_path = ctx.command_path if ctx is not None else command_path
        hint = f"; see {command_path} --help" if command_path else ""
        message = exc.format_message().replace("Value error, ", "").rstrip(".")  # (pydantic's prefix, via typer)
        _stop(f"{message}{hint}", exc.exit_code)


app = typer.Typer(
    cls=OneLineErrors,
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

try:
    for _module in STAGE_CLIS:
        importlib.import_module(_module).register(app)
except KeyboardInterrupt:  # a Ctrl-C while the commands load: one line, not the import's traceback
    _stop("interrupted", 130)
finally:
    gc.freeze()
    gc.enable()


@app.command("version")
def version() -> None:
    """Print tomecraft's version."""
    from importlib.metadata import version as _v

    typer.echo(_v("tomecraft"))


def main() -> None:  # pragma: no cover - the console script; tests call ``app``
    """The `tome` command: ``app`` on standard streams made safe to fail (:func:`tomecraft.console.prepare_streams`),
    the model libraries' import-time notes held back (:mod:`tomecraft.library_logs`), a SIGTERM stopping it as Ctrl-C does, then the process ends without the interpreter's teardown
    (:mod:`tomecraft.process`)."""
    from tomecraft.console import prepare_streams
    from tomecraft.library_logs import hold_back_build_notes
    from tomecraft.process import exit_now, stop_on_terminate

    prepare_streams()
    hold_back_build_notes()
    stop_on_terminate()
    try:
        try:
            app()
        except OSError as exc:  # (written outside the commands: Click's usage and error texts, `tome` alone)
            _output_failed(exc)
            raise
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    exit_now(code)


if __name__ == "__main__":  # pragma: no cover
    main()
