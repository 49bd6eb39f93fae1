"""The repository stands on its own: no source, test, benchmark or CI file names a path of one
machine or a folder outside the checkout. A plain clone must find everything it needs inside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from helpers import REPO_ROOT

CHECKED = [
    "python",
    "rust",
    "benches",
    "tests",
    "examples",
    ".ci",
    "Makefile",
    "pyproject.toml",
    "Cargo.toml",
]
# Written in pieces so that this file does not match itself.
_SIBLING = r"\.\./" + "shared"
_MACHINE = r"(?<![.\w])/(?:work|home|root|Users|mnt)/"
_SPEC_OUTSIDE = "shared/" + "(?:specs|testdata)"
FORBIDDEN = re.compile(f"{_SIBLING}|{_MACHINE}|{_SPEC_OUTSIDE}")


def tracked_and_new_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *CHECKED],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [REPO_ROOT / line for line in out.splitlines() if not line.startswith("tests/data/")]


def offending_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if FORBIDDEN.search(line)]


def test_pattern_catches_what_it_is_for() -> None:
    assert offending_lines('DATA = Path("/' + "work/" + 'x/testdata")')
    assert offending_lines('root.join("../../..' + "/shared" + '/testdata")')
    assert offending_lines("see " + "shared/" + "specs/cbor-v2.md")
    assert offending_lines('open("/' + "home/" + 'alice/x.cbor")')
    assert not offending_lines('DATA = REPO_ROOT / "tests" / "data"  # docs/specs/cbor-v2.md §5')
    assert not offending_lines("PATH=/usr/local/bin:/usr/bin; tmp=/tmp/x; url=https://h/work/")


def test_no_machine_paths_or_outside_folders() -> None:
    files = tracked_and_new_files()
    assert len(files) > 50, "git ls-files found too few files: is this a checkout?"
    found = {}
    for path in files:
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary fixtures name no paths
        if bad := offending_lines(text):
            found[str(path.relative_to(REPO_ROOT))] = bad[:3]
    assert not found, f"files naming a machine path or a folder outside the repository: {found}"


def test_test_data_is_inside_the_repository() -> None:
    data = REPO_ROOT / "tests" / "data"
    assert (data / "SOURCES.md").is_file()
    for folder in ("cbor", "eventstream", "mitmproxy", "sse"):
        assert any((data / folder).iterdir()), folder


def test_no_test_data_is_ignored_by_git() -> None:
    """A data file that .gitignore hides works on its author's machine and is missing from every
    clone (the `*.cbor` and `*.mitm` rules once hid two fixtures)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--", "tests/data"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ignored = [line[3:] for line in out.splitlines() if line.startswith("!!")]
    assert not ignored, f"test data ignored by git (fix .gitignore): {ignored}"
