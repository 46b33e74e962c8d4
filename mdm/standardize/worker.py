"""A standardizing worker (``mdm.standardize.parallel``): reads (function, values) requests
from standard input and writes (ok, results) answers to standard output, until its input
closes."""

from __future__ import annotations

import sys

from mdm.standardize.parallel import apply, read_frame, write_frame


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed may land in the answers
    while True:
        try:
            fn, arguments = read_frame(requests)
        except EOFError:
            return
        try:
            answer: tuple[bool, object] = (True, apply(fn, arguments))
        except Exception as error:  # the caller does this share itself
            answer = (False, repr(error))
        write_frame(answers, answer)


if __name__ == "__main__":
    main()
