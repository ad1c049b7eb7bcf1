"""The documented walk runs as written: the README's set-up and quick start, docs/python.md, docs/tutorial.md and
docs/variants.md, top to bottom, as a new user in a fresh clone would run them.

Each page's ```bash blocks run in order in one shell whose working directory is a fresh temporary folder
standing for the repository root (``test_data`` linked into it), so nothing lands in the repository. A
block preceded by ``<!-- not run by the tests: needs WHAT -->`` is left out (WHAT must be one of
:data:`NOT_RUN`); one preceded by ``<!-- tests: slow -->`` runs in the slow test only.
docs/python.md's ```python blocks run in one Python process, in order.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from .conftest import ROOT

#: What a documented block needs that the tests do not have: its block is not run.
NOT_RUN = {
    "finemo": "Fi-NeMo, outside the test extra (it needs PyTorch)",
    "the files of your folds": "a user's fold files",
}
SKIP = re.compile(r"<!-- not run by the tests: needs (.+?) -->")
SLOW = "<!-- tests: slow -->"
#: What the README's set-up command runs after installing genolift.
INSTALL = "python -m pip install . && "


def blocks(text: str, language: str = "bash") -> list[tuple[str, str]]:
    """The page's ``language`` blocks in order, each as (mark, code): mark is ``run``, ``slow`` or ``skip``."""
    found = []
    for match in re.finditer(rf"^```{language}\n(.*?)^```$", text, re.M | re.S):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
        skip = SKIP.fullmatch(before)
        if skip:
            assert skip.group(1) in NOT_RUN, f"{before}: say what it needs, one of {sorted(NOT_RUN)}"
            found.append(("skip", match.group(1)))
        else:
            found.append(("slow" if before == SLOW else "run", match.group(1)))
    return found


def readme_walk() -> list[str]:
    """The README's commands a new user runs: the set-up command's run (after its install), the quick start."""
    readme = (ROOT / "README.md").read_text()
    setup = re.search(r"Run the main job.*?```bash\n(.+?)\n```", readme, re.S).group(1)
    assert setup.startswith(INSTALL)
    quick = re.search(r"^## Quick start\n(.*?)^## ", readme, re.M | re.S).group(1)
    return [setup[len(INSTALL):] + "\n"] + [code for mark, code in blocks(quick) if mark == "run"]


def page(name: str, slow: bool) -> list[str]:
    """The bash blocks of docs/NAME that the test runs."""
    return [code for mark, code in blocks((ROOT / "docs" / name).read_text())
            if mark == "run" or (slow and mark == "slow")]


def user_env() -> dict:
    """The environment of a user following the docs: this Python's commands first, the session's cache folder,
    no setting the test session makes for its own processes (``GENOLIFT_COMPILE``), a headless plot backend."""
    env = {k: v for k, v in os.environ.items() if k != "GENOLIFT_COMPILE"}
    env.update(PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"], MPLBACKEND="Agg")
    return env


def shell(parts: list[tuple[str, str]], cwd: Path) -> None:
    """Run the (label, code) parts in one bash process in ``cwd``; a failure names the part."""
    script = ["set -eu"]
    for label, code in parts:
        script += [f"echo '>>> {label}' >&2", code]
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=user_env(), capture_output=True, text=True)
    if done.returncode:
        last = [line for line in done.stderr.splitlines() if line.startswith(">>> ")][-1:]
        pytest.fail(f"the documented commands stop at {last}: exit {done.returncode}\n{done.stderr[-3000:]}")


def python_page(cwd: Path) -> None:
    """The README's Python blocks, then docs/python.md's, in order, in one process."""
    pages = [(ROOT / "README.md").read_text(), (ROOT / "docs" / "python.md").read_text()]
    code = "\n".join(code for text in pages for _, code in blocks(text, "python"))
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=user_env(), capture_output=True, text=True)
    assert done.returncode == 0, f"the README's or docs/python.md's Python:\n{done.stderr[-3000:]}"
    # as quiet as the command: no start-up notes of the array libraries; TensorFlow's warning that a process
    # tracing many engines (eight rules and methods here) retraces its step functions is the one line let through
    retracing = "triggered tf.function retracing"
    noise = [line for line in done.stderr.splitlines() if line.strip() and retracing not in line]
    assert not noise, done.stderr


@pytest.fixture
def root(tmp_path) -> Path:
    """A folder standing for a fresh clone's root: the bundled data, nothing else."""
    (tmp_path / "test_data").symlink_to(ROOT / "test_data", target_is_directory=True)
    return tmp_path


def ignored_by_git(name: str) -> bool:
    """Whether the repository's .gitignore ignores ``name`` (a path relative to its root).

    Asks git; where the tests run outside a git checkout (or without git), matches the patterns of .gitignore.
    """
    try:
        done = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT, capture_output=True)
        if done.returncode in (0, 1):
            return done.returncode == 0
    except OSError:
        pass
    patterns = [line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    return any(fnmatch.fnmatch(name.rstrip("/"), pattern.strip("/")) and (name.endswith("/") or
               not pattern.endswith("/")) for pattern in patterns)


def check_no_untracked_output(root: Path) -> None:
    for entry in root.iterdir():
        if entry.name != "test_data":
            name = entry.name + ("/" if entry.is_dir() else "")
            assert ignored_by_git(name), f"the documented walk leaves {name} in the repository root, not ignored"


def check_formats_page_names(folder: Path) -> None:
    """Every dataset and attribute of the genolift files written is named in docs/formats.md."""
    formats = (ROOT / "docs" / "formats.md").read_text()

    def named(name: str) -> bool:
        base, dot, suffix = name.partition(".")
        return f"`{name}`" in formats or (dot and f"`NAME.{suffix}`" in formats and f"`{base}`" in formats)

    for path in folder.glob("*.h5"):
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != "genolift-scores":
                continue
            missing = [n for n in [*f.keys(), *f.attrs.keys()] if not named(n)]
        assert not missing, f"docs/formats.md does not name {missing} of {path.name}"


@pytest.mark.slow
def test_the_readme_python_page_and_tutorial_run_as_written(root):
    """README set-up and quick start, docs/python.md, then docs/tutorial.md (its fast blocks), in one folder."""
    shell([("README", code) for code in readme_walk()], root)
    assert (root / "example_scores.h5").is_file() and (root / "example_scores.regions.narrowPeak").is_file()
    python_page(root)
    shell([(f"docs/tutorial.md block {i}", code) for i, code in enumerate(page("tutorial.md", slow=False))], root)
    out = root / "tutorial"
    for name in ("example_peaks.hyp.h5", "example_peaks.hyp.regions.narrowPeak", "example_peaks.hyp.bw", "peak_1.png",
                 "example_peaks.hyp.modisco.h5", "example_peaks.hyp.seqlets.bed", "example_peaks.hyp.finemo.npz",
                 "example_variants.h5", "example_variants.variant_scores.tsv", "example_variants.delta.bw",
                 "var_5.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    check_no_untracked_output(root)
    check_formats_page_names(root)
    check_formats_page_names(out)


@pytest.mark.slow
def test_the_whole_tutorial_and_the_variants_walk_run_as_written(root):
    """Every runnable block of docs/tutorial.md (the slow ones too), then docs/variants.md's, in the tutorial folder."""
    tutorial = page("tutorial.md", slow=True)
    variants = page("variants.md", slow=True)
    shell([(f"docs/tutorial.md block {i}", code) for i, code in enumerate(tutorial)]
          + [(f"docs/variants.md block {i}", code) for i, code in enumerate(variants)], root)
    out = root / "tutorial"
    assert (out / "example_peaks.hyp.modisco_report" / "report.html").is_file()
    assert (out / "chrombpnet.counts.h5").is_file() and (out / "crested.0.h5").is_file()
    assert (out / "ranked.variant_scores.tsv").is_file()
    check_no_untracked_output(root)
    check_formats_page_names(out)


def test_every_skipped_block_says_why():
    """Blocks left out name a tool outside the test extra; the pages hold blocks the test runs."""
    for name in ("tutorial.md", "variants.md"):
        marks = [mark for mark, _ in blocks((ROOT / "docs" / name).read_text())]
        assert marks.count("run") >= 2, name
    assert readme_walk()
