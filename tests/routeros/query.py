"""RouterOS API print queries: `?` words evaluated on a stack, one stack per row.

`?name` has property, `?-name` lacks it, `?name=x` / `?=name=x` equals, `?<name=x`,
`?>name=x` compare, and `?#ops` combines stack values: `|` or, `&` and, `!` not,
`.` drop, digits = copy the value at that depth (0 is the top; digits at the end of
the word replace the whole stack with it). A row matches when every value left on
the stack is true (an empty stack matches everything).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Row = dict[str, str]
Test = Callable[[Row], bool]

BOOL_WORDS = {"yes": True, "true": True, "no": False, "false": False}


class QueryError(Exception):
    """The query words do not form a valid RouterOS query."""


def values_equal(stored: str, wanted: str) -> bool:
    if stored == wanted:
        return True
    # RouterOS prints booleans as true/false but accepts yes/no in queries.
    if stored in BOOL_WORDS and wanted in BOOL_WORDS:
        return BOOL_WORDS[stored] == BOOL_WORDS[wanted]
    return False


def _less(stored: str, wanted: str) -> bool:
    if stored.lstrip("-").isdigit() and wanted.lstrip("-").isdigit():
        return int(stored) < int(wanted)
    return stored < wanted


def _greater(stored: str, wanted: str) -> bool:
    if stored.lstrip("-").isdigit() and wanted.lstrip("-").isdigit():
        return int(stored) > int(wanted)
    return stored > wanted


def _compile_test(body: str) -> Test:
    """Compile the part of a `?` word after the question mark."""
    if body.startswith("-"):
        name = body[1:]
        return lambda row: name not in row
    if body.startswith(("<", ">")):
        name, sep, wanted = body[1:].partition("=")
        if not sep:
            raise QueryError(f"comparison query '?{body}' needs a value")
        compare = _less if body[0] == "<" else _greater
        return lambda row: name in row and compare(row[name], wanted)
    if body.startswith("="):
        body = body[1:]
    name, sep, wanted = body.partition("=")
    if not name:
        raise QueryError(f"query word '?{body}' has no property name")
    if not sep:
        return lambda row: name in row
    return lambda row: name in row and values_equal(row[name], wanted)


def _apply_operations(ops: str, stack: list[bool]) -> None:
    digits = ""
    try:
        for char in ops:
            if char.isdigit():
                digits += char
                continue
            if digits:
                stack.append(stack[-1 - int(digits)])
                digits = ""
            if char == "|":
                right, left = stack.pop(), stack.pop()
                stack.append(left or right)
            elif char == "&":
                right, left = stack.pop(), stack.pop()
                stack.append(left and right)
            elif char == "!":
                stack.append(not stack.pop())
            elif char == ".":
                stack.pop()
            else:
                raise QueryError(f"unknown query operation {char!r} in '?#{ops}'")
        if digits:
            stack[:] = [stack[-1 - int(digits)]]
    except IndexError as exc:
        raise QueryError(f"query operation '?#{ops}' needs more values on the stack") from exc


@dataclass(frozen=True)
class Query:
    steps: tuple[Test | str, ...]

    def matches(self, row: Row) -> bool:
        stack: list[bool] = []
        for step in self.steps:
            if isinstance(step, str):
                _apply_operations(step, stack)
            else:
                stack.append(step(row))
        return all(stack)


def compile_query(words: Sequence[str]) -> Query:
    """Compile `?...` words (with the leading question mark) into a row filter."""
    steps: list[Test | str] = []
    for word in words:
        if not word.startswith("?"):
            raise QueryError(f"'{word}' is not a query word")
        body = word[1:]
        if body.startswith("#"):
            steps.append(body[1:])
        else:
            steps.append(_compile_test(body))
    query = Query(tuple(steps))
    # Check the stack operations once up front so a bad query fails even with no rows.
    query.matches({})
    return query
