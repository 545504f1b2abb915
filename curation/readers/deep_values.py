"""A JSON value as a flat list, built and taken apart without recursion, so that it pickles however deep it is.

``json`` reads values deeper than ``pickle`` can write them on some Pythons: 3.12 bounds both by a fixed C
limit that ``sys.setrecursionlimit`` does not raise, and reads about 1,500 levels where it pickles about 750.
A row of a loaded ``.json`` document nested between the two ended a Ray run in "maximum recursion depth
exceeded while pickling an object". :class:`Flat` holds such a value as its nodes in order, each a tag and an
argument (``"l", n`` a list of n items; ``"d", n`` an object of n members, each a ``"k", key`` and its value;
``"v", x`` anything else), and unpickles as the value itself.
"""

from __future__ import annotations

from typing import Any


class _Key:
    __slots__ = ("name",)

    def __init__(self, name: Any) -> None:
        self.name = name


def flatten(value: Any) -> list:
    """``value``'s nodes in order (depth first), as the tags and arguments :func:`rebuild` reads."""
    ops: list = []
    todo = [value]
    while todo:
        v = todo.pop()
        kind = type(v)
        if kind is list:
            ops += ("l", len(v))
            todo.extend(reversed(v))
        elif kind is dict:
            ops += ("d", len(v))
            for key, item in reversed(list(v.items())):
                todo.append(item)
                todo.append(_Key(key))
        elif kind is _Key:
            ops += ("k", v.name)
        else:
            ops += ("v", v)
    return ops


def rebuild(ops: list) -> Any:
    """The value :func:`flatten` took apart: each list and object is put in its parent when it starts, then filled."""
    root: list = []
    stack: list[list] = [[root, 1, None]]  # [container, members still to come, the member's key (objects)]
    for i in range(0, len(ops), 2):
        tag, arg = ops[i], ops[i + 1]
        frame = stack[-1]
        if tag == "k":
            frame[2] = arg
            continue
        value = [] if tag == "l" else {} if tag == "d" else arg
        if type(frame[0]) is list:
            frame[0].append(value)
        else:
            frame[0][frame[2]] = value
        frame[1] -= 1
        if tag in ("l", "d") and arg:
            stack.append([value, arg, None])
        while len(stack) > 1 and stack[-1][1] == 0:
            stack.pop()
    return root[0]


class Flat:
    """A value that pickles as its :func:`flatten`-ed nodes and unpickles as the value itself."""

    def __init__(self, value: Any) -> None:
        self.ops = flatten(value)

    def __reduce__(self):
        return rebuild, (self.ops,)
