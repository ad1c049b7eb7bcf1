"""The Nextflow pipeline runs what the Snakemake workflow runs, checked without Nextflow.

Nextflow's launcher downloads its runtime at first use, so the tests never run
``scripts/nextflow/main.nf``; they check what can be checked from the files:
the same parameters with the same defaults, the same cache folder, and the
same command lines.  The Snakefile's commands are the ones Snakemake itself
prints for a dry run (the commands the workflow tests run); main.nf's are read
from its process scripts with its parameters filled in.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, TEST_DATA

SNAKEFILE = ROOT / "scripts" / "snakemake" / "Snakefile"
MAIN_NF = ROOT / "scripts" / "nextflow" / "main.nf"
SHARDS = 3
DATA = {"model": TEST_DATA / "example_model.h5", "regions": TEST_DATA / "example_peaks.narrowPeak",
        "genome": TEST_DATA / "example_genome.fa"}


def snakefile_defaults() -> dict:
    """``config.get("name", default)`` of the Snakefile, as strings."""
    found = re.findall(r'config\.get\("(\w+)", ([^)]+)\)', SNAKEFILE.read_text())
    return {name: default.strip().strip("\"'") for name, default in found}


def nextflow_defaults() -> dict:
    """``params.name = default`` of main.nf, as strings (None for ``null``)."""
    found = re.findall(r"^params\.(\w+) = (.+)$", MAIN_NF.read_text(), re.M)
    return {name: None if value == "null" else value.strip().strip("\"'") for name, value in found}


def snakemake_commands(tmp_path: Path) -> list[str]:
    """The shell commands of every job of the workflow, as a dry run of Snakemake prints them."""
    snakemake = Path(sys.executable).parent / "snakemake"
    config = [f"{name}={path}" for name, path in DATA.items()] + [f"shards={SHARDS}"]
    done = subprocess.run([str(snakemake), "--dry-run", "--printshellcmds", "--forceall", "--snakefile",
                           str(SNAKEFILE), "--directory", str(tmp_path), "--config", *config],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.findall(r"^Shell command: (.+)$", done.stdout + done.stderr, re.M)
    return [command for command in found if command != "None"]  # rule all runs nothing


def nextflow_commands() -> list[str]:
    """The commands of main.nf's processes, with its parameter defaults and one task's inputs filled in."""
    params = {**nextflow_defaults(), "shards": str(SHARDS)}
    values = {**{name: path.name for name, path in DATA.items()}, "launchDir": "/launch", "scores": "scores.h5",
              "shards": " ".join(f"shard_{i}.h5" for i in range(SHARDS))}
    commands = []
    for name, script in re.findall(r"process (\w+) \{.*?\"\"\"\n(.*?)\"\"\"", MAIN_NF.read_text(), re.S):
        text = re.sub(r"\$\{params\.(\w+)\}", lambda m: params[m.group(1)], script.replace("\\\\\n", " "))
        for i in range(SHARDS) if "${i}" in text else [None]:
            filled = re.sub(r"\$\{(\w+)\}", lambda m: str(i) if m.group(1) == "i" else values[m.group(1)], text)
            commands.append(" ".join(filled.split()))
    return commands


def normalized(command: str) -> tuple:
    """(program words, cache folder, options and operands) of one command line: paths by file
    name (Nextflow stages inputs by name, Snakemake names them in place), shell redirections dropped."""
    cache = None
    words = []
    for word in shlex.split(command.replace("; ", " ; ")):
        if word.startswith("GENOLIFT_CACHE_DIR="):
            cache = Path(word.split("=", 1)[1]).name
        elif word in ("export", ";"):
            continue
        elif re.match(r"^\d?>", word):
            words.append(">")
        else:
            words.append(Path(word).name if "/" in word and not re.match(r"^\d+/\d+$", word) else word)
    if ">" in words:
        words = words[:words.index(">")]
    return cache, words


def by_program(commands: list[str]) -> dict:
    """Normalized commands keyed by what they make: ``score shard_i.h5``, ``merge``, ``bigwig``, ``modisco``."""
    kept = {}
    for command in commands:
        cache, words = normalized(command)
        program = words[:2]
        key = " ".join(program) + (f" {words[words.index('-o') + 1]}" if program == ["genolift", "score"] else "")
        kept[key] = (cache, words)
    return kept


def test_the_two_pipelines_share_parameters_and_defaults():
    snakemake, nextflow = snakefile_defaults(), nextflow_defaults()
    shared = {"shards", "shuffles", "seed", "batch_size", "chunk_size", "modisco_window", "modisco_seqlets",
              "extra", "cache_dir"}
    assert shared <= set(snakemake) and shared <= set(nextflow)
    for name in shared - {"cache_dir"}:
        assert snakemake[name] == nextflow[name], name
    assert Path(snakemake["cache_dir"]).name == Path(nextflow["cache_dir"]).name == ".genolift-cache"


def test_nextflow_runs_the_commands_the_snakefile_runs(tmp_path):
    snakemake = by_program(snakemake_commands(tmp_path))
    nextflow = by_program(nextflow_commands())
    shards = [f"genolift score shard_{i}.h5" for i in range(SHARDS)]
    assert sorted(snakemake) == sorted(nextflow) == sorted(shards + ["genolift merge", "genolift bigwig",
                                                                       "modisco motifs"])
    for key in snakemake:
        assert snakemake[key][1] == nextflow[key][1], key
    for key in shards:  # every score job reads and writes one cache folder, the same in both
        assert snakemake[key][0] == nextflow[key][0] == ".genolift-cache", key


def test_the_readme_gives_the_slurm_command_of_the_docs():
    """The README's SLURM command is the one docs/pipelines.md explains and tests/test_slurm.py runs."""
    def slurm_block(path: Path) -> str:
        blocks = re.findall(r"```bash\n(.*?)```", path.read_text(), re.S)
        (block,) = [block for block in blocks if "--executor slurm" in block]
        return block

    assert slurm_block(ROOT / "README.md") == slurm_block(ROOT / "docs" / "pipelines.md")
