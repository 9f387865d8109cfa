#!/usr/bin/env python3
"""Rebuilds tests/data/django/sections.jsonl: Django's own documentation, one Markdown document per
section, for the retrieval quality set (tests/search_quality.rs, docs/search.md).

The text is the reST documentation shipped in Django's source distribution on PyPI (topics, howto,
internals, faq and misc; BSD licence, tests/data/django/LICENSE). Headings become `#` (the page) and
`##` (the section's heading path, joined by " › "), Sphinx roles become their plain text, and
directives and link targets are dropped; everything else is left as written, code included.

    python3 scripts/quality_set.py            # pip-downloads django==5.2.19 (sdist) first
    python3 scripts/quality_set.py --docs DIR # an unpacked docs/ folder already here
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile

VERSION = "5.2.19"
FOLDERS = ["topics", "howto", "internals", "faq", "misc"]
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests/data/django/sections.jsonl"
RULE_CHARS = set("=-~^\"'*+#<>_:.`")


def is_rule(line):
    s = line.rstrip()
    return len(s) >= 3 and len(set(s)) == 1 and s[0] in RULE_CHARS


def plain(text):
    """Sphinx roles and reST literals as the words a reader sees."""
    text = re.sub(r":[a-z:]+:`~?([^`<]*?)\s*<[^>]*>`", r"\1", text)
    text = re.sub(r":[a-z:]+:`~([^`]*?)`", lambda m: m.group(1).split(".")[-1], text)
    text = re.sub(r":[a-z:]+:`([^`]*?)`", r"\1", text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    text = re.sub(r"`([^`<]+?)\s*<[^>]+>`__?", r"\1", text)
    return text


def sections(path):
    """(heading path, body lines) of every section of one reST file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    styles, found, stack, body = [], [], [], []
    i = 0

    def flush():
        if stack:
            found.append((list(stack), body[:]))
        body.clear()

    while i < len(lines):
        line = lines[i]
        over = is_rule(line) and i + 2 < len(lines) and lines[i + 1].strip() and is_rule(lines[i + 2])
        under = (
            line.strip()
            and not line.startswith((" ", "\t"))
            and not is_rule(line)
            and i + 1 < len(lines)
            and is_rule(lines[i + 1])
            and len(lines[i + 1].rstrip()) >= len(line.rstrip()) - 1
        )
        if over or under:
            title = (lines[i + 1] if over else line).strip()
            style = (lines[i][0], True) if over else (lines[i + 1][0], False)
            if style not in styles:
                styles.append(style)
            level = styles.index(style)
            flush()
            del stack[level:]
            stack.append(plain(title))
            i += 3 if over else 2
            continue
        s = line.strip()
        if (
            re.match(r"\.\. _[^:]*:\s*$", s)
            or re.match(r"\.\. (index|highlight|module|currentmodule|toctree|contents)::", s)
            or s.startswith(":maxdepth:")
            or (s.startswith(".. ") and "::" not in s)
        ):
            i += 1
            continue
        m = re.match(r"(\s*)\.\. ([a-z-]+)::\s*(.*)$", line)
        if m:
            line = m.group(1) + (m.group(3) if m.group(2) not in ("code-block", "console", "code") else "")
        body.append(line)
        i += 1
    flush()
    return found


def documents(docs):
    for folder in FOLDERS:
        for path in sorted((docs / folder).rglob("*.txt")):
            page_id = path.relative_to(docs).with_suffix("")
            found = sections(path)
            if not found:
                continue
            page = found[0][0][0]
            for k, (heads, body) in enumerate(found):
                text = plain("\n".join(body)).strip()
                text = "\n".join(l for l in text.split("\n") if not l.strip().startswith((":synopsis:", ":platform:")))
                text = re.sub(r"\n{3,}", "\n\n", text)
                if len(text.split()) < 15:
                    continue
                sub = " › ".join(heads[1:])
                md = f"# {page}\n\n" + (f"## {sub}\n\n" if sub else "") + text + "\n"
                yield {"id": f"{page_id}/{k:03}", "text": md}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=pathlib.Path, help="an unpacked Django docs/ folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        docs = args.docs
        if docs is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                 f"django=={VERSION}", "-d", tmp],
                check=True,
            )
            with tarfile.open(next(pathlib.Path(tmp).glob("*.tar.gz"))) as tar:
                tar.extractall(tmp, filter="data")
            docs = pathlib.Path(tmp) / f"django-{VERSION}" / "docs"
        rows = sorted(documents(docs), key=lambda r: r["id"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{OUT}: {len(rows)} sections")


if __name__ == "__main__":
    main()
