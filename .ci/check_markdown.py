"""Fails when a Markdown file has a code fence that is not closed where it should be.

A forgotten closing fence renders without any error: the rest of the document (or of its list item or
quote) becomes code, or, when a later fence happens to close it, everything up to there, headings and
prose included. So the files are parsed with markdown-it-py, a CommonMark parser, and each fence is
checked: its block must end with a closing line, and it must not contain a line that opens a fence of
the same kind with an info string (such a line cannot close it: the fence before it was never closed).
Usage: python check_markdown.py FILE...
"""

import re
import sys

from markdown_it import MarkdownIt


def unclosed_fences(text):
    """Yields (line, problem) for every fence that is not closed where it should be (1-based lines)."""
    lines = text.splitlines()
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        # A closed fence's block ends with its closing line: the same character, at least as many times,
        # and nothing else but spaces (after any container markers of a quote).
        last = lines[end - 1] if end - 1 > start else ""
        last = re.sub(r"^[\s>]*", "", last)
        closer = re.fullmatch(re.escape(token.markup[0]) + "{%d,}\\s*" % len(token.markup), last)
        if closer is None:
            yield start + 1, f"the code fence {token.markup} opened here is never closed"
            continue
        opener = re.compile(r"\s*" + re.escape(token.markup[0]) + "{%d,}\\s*[^\\s`~]" % len(token.markup))
        for offset, inner in enumerate(token.content.splitlines()):
            if opener.match(inner):
                yield start + 1, (
                    f"the code fence {token.markup} opened here runs on past line {start + 2 + offset}, "
                    "which opens another fence: it is missing its closing line"
                )
                break


def main(paths):
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for line, problem in unclosed_fences(text):
            print(f"{path}:{line}: {problem}")
            failed = True
    if not failed:
        print(f"{len(paths)} Markdown files: every code fence is closed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
