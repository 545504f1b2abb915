"""Every `tome` command's help teaches: the command says what it does, every option and argument says what it is
for, and nothing in it is lost to the help's markdown (a `<name>` outside backticks is read as an HTML tag and
dropped: `Default: runs/<config file name>` printed as `Default: runs/,`)."""

from __future__ import annotations

import re

from typer.main import get_command

from tomecraft.cli import app


def _commands(command, path: tuple[str, ...] = ("tome",)):
    if hasattr(command, "commands"):  # a group (Click's, as typer vendors it)
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path), command


COMMANDS = dict(_commands(get_command(app)))
assert len(COMMANDS) > 10 and "tome review export" in COMMANDS


def test_every_command_option_and_argument_has_help():
    # (`--embed-batch-size` of `tome review export` was listed with its type and default only)
    missing = [f"{path} {param.name}" for path, command in COMMANDS.items() for param in command.params
               if param.name != "help" and not getattr(param, "help", None)]
    assert missing == []
    assert [path for path, command in COMMANDS.items() if not command.help] == []


def _outside_code(text: str) -> str:
    return re.sub(r"`[^`]*`", "", text)


def test_no_help_text_holds_a_tag_the_markdown_would_drop():
    tagged = re.compile(r"<[A-Za-z][^>]*>")
    found = [f"{path} {getattr(param, 'name', '')}: {text}"
             for path, command in COMMANDS.items()
             for param, text in [(command, command.help or "")] + [(p, getattr(p, "help", None) or "") for p in command.params]
             if tagged.search(_outside_code(text))]
    assert found == []
