"""A cache folder cannot poison a run: damaged, foreign, blocked and contended entries.

Every run here is the real command line in its own process, scoring a few
regions of the example with the cache folder under test.  The folder holds
three kinds of entries (read model graphs, compile-choice records, numba's
compiled shuffle kernels); whatever state it is in, the run succeeds, reports
each entry it ignored in one warning line naming it, replaces it, and writes
the scores a run with the same compilation writes.  Two checks in the test
process come first: a graph record whose bytes changed behind its digest, and
a kernel folder other users can write to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import genolift
from genolift.model import graph_cache, keras_reader

from .conftest import TEST_DATA

pytestmark = pytest.mark.usefixtures("measured_compilation")  # these tests are about --compile auto's records

MODEL = TEST_DATA / "example_model.h5"
GENOME = TEST_DATA / "example_genome.fa"
WARNING = "genolift: cache entry "

_AS_VERSION = """
import sys
import genolift
genolift.__version__ = sys.argv[1]
from genolift.cli.main import main
main(sys.argv[2:])
"""


def test_a_graph_record_with_other_bytes_than_its_digest_is_read_again(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GENOLIFT_CACHE_DIR", str(tmp_path / "cache"))
    fresh = keras_reader.load_model(MODEL)  # read, and its graph kept
    (record,) = (tmp_path / "cache" / "graphs").glob("*.npz")
    with np.load(record) as members:
        changed = {name: members[name] for name in members.files}
    changed["a0"] = changed["a0"] + np.ones_like(changed["a0"])  # other weights, same description and digest
    with open(record, "wb") as handle:
        np.savez(handle, **changed)
    with caplog.at_level("WARNING", logger="genolift"):
        assert graph_cache.recall(record.stem, str(MODEL), fresh.sha256) is None
    (line,) = [r.getMessage() for r in caplog.records if "cache entry" in r.getMessage()]
    assert str(record) in line and "SHA-256 does not match" in line
    assert not record.exists()  # removed, so that the next read stores it afresh
    again = keras_reader.load_model(MODEL)
    assert graph_cache.recall(record.stem, str(MODEL), fresh.sha256) is not None
    for a, b in zip(fresh.nodes, again.nodes):
        for x, y in zip(a.weights, b.weights):
            assert np.array_equal(x, y)


def test_a_kernel_folder_others_can_write_to_is_not_read(tmp_path, monkeypatch, caplog):
    """numba's cache files are pickles, which run code when read: a folder others can write is not used."""
    from numba.core.caching import NullCache

    from genolift.references import jit

    monkeypatch.setenv("GENOLIFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(jit.config, "CACHE_DIR", "")
    folder = jit.kernel_folder()
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    with caplog.at_level("WARNING", logger="genolift"):
        compiled = jit.kernel(lambda x: x + 1)
    assert compiled(1) == 2 and isinstance(compiled._cache, NullCache)
    assert not list(folder.iterdir())
    assert any(str(folder) in r.getMessage() and "other users" in r.getMessage() for r in caplog.records)
    folder.chmod(0o700)
    private = jit.kernel(lambda x: x + 2)
    assert private(1) == 3 and list(folder.rglob("*.nbi"))  # the user's own folder is used


@pytest.fixture(scope="module")
def regions(tmp_path_factory) -> Path:
    """The first 24 peaks of the example: start-up, not scoring, is what these runs spend."""
    path = tmp_path_factory.mktemp("regions") / "peaks.narrowPeak"
    path.write_text("".join((TEST_DATA / "example_peaks.narrowPeak").read_text().splitlines(True)[:24]))
    return path


def _command(regions: Path, out: Path, *extra: str, version: str | None = None) -> list[str]:
    args = ["score", str(MODEL), str(regions), "-g", str(GENOME), "-o", str(out), "--shuffles", "3", "-q", *extra]
    if version is None:
        return [sys.executable, "-m", "genolift", *args]
    return [sys.executable, "-c", _AS_VERSION, version, *args]


def _environment(cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    return {**env, "GENOLIFT_CACHE_DIR": str(cache)}


def run(regions: Path, cache: Path, out: Path, *extra: str, version: str | None = None) -> list[str]:
    """Score into ``out`` with ``cache``; assert it succeeded; its cache warnings, one line each."""
    done = subprocess.run(_command(regions, out, *extra, version=version), env=_environment(cache),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [line for line in done.stderr.splitlines() if line.startswith(WARNING)]


def scores(path: Path) -> dict:
    """Every dataset of a score file, read back."""
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f if isinstance(f[name], h5py.Dataset)}


def assert_same_scores(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def entries(cache: Path) -> dict:
    """The cache's entries by kind: read graphs, compile records, numba's index and data files."""
    return {"graphs": sorted(cache.glob("graphs/*.npz")), "compile": sorted(cache.glob("compile/*.json")),
            "index": sorted(cache.glob("numba/*/*/*.nbi")), "data": sorted(cache.glob("numba/*/*/*.nbc"))}


def recorded_choices(cache: Path) -> set:
    """The compilations recorded in ``cache`` by this genolift version."""
    records = [json.loads(path.read_text()) for path in entries(cache)["compile"]]
    return {r["choice"] for r in records if r["fields"].get("genolift") == genolift.__version__}


@pytest.fixture(scope="module")
def good(regions, tmp_path_factory) -> Path:
    """A cache folder filled by one run on an empty folder (copied by each test before damaging it)."""
    cache = tmp_path_factory.mktemp("good") / "cache"
    assert run(regions, cache, cache.parent / "first.h5") == []
    found = entries(cache)
    assert all(found.values()), {kind: len(paths) for kind, paths in found.items()}
    assert len(recorded_choices(cache)) == 1
    return cache


@pytest.fixture(scope="module")
def reference(regions, tmp_path_factory):
    """The scores of a run with ``--compile CHOICE`` (no cache entry involved), computed once per choice."""
    folder = tmp_path_factory.mktemp("reference")
    done: dict = {}

    def of(choice: str) -> dict:
        if choice not in done:
            out = folder / f"{choice}.h5"
            run(regions, folder / f"cache-{choice}", out, "--compile", choice)
            done[choice] = scores(out)
        return done[choice]

    return of


def assert_scores_of_its_compilation(out: Path, cache: Path, reference) -> None:
    """The run's scores are those of a run with the compilation its cache now records."""
    (choice,) = recorded_choices(cache)
    assert_same_scores(scores(out), reference(choice))


def warned_paths(lines: list[str]) -> list[Path]:
    """The entries the warning lines name, each line naming one (``cache entry PATH ignored (...)``)."""
    return [Path(line[len(WARNING):].split(" ignored (", 1)[0]) for line in lines]


def copy_of(good: Path, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    shutil.copytree(good, cache)
    return cache


@pytest.mark.slow
def test_truncated_entries_are_ignored_once_and_replaced(regions, good, reference, tmp_path):
    """What a job killed mid-write on a cluster file system leaves: every entry cut short."""
    cache = copy_of(good, tmp_path)
    damaged = [path for paths in entries(cache).values() for path in paths]
    for i, path in enumerate(damaged):
        os.truncate(path, 0 if i % 2 else path.stat().st_size // 2)
    lines = run(regions, cache, tmp_path / "out.h5")
    named = warned_paths(lines)
    assert len(named) == len(set(named)) and set(named) <= set(damaged), lines
    found = entries(cache)
    for kind in ("graphs", "compile", "index"):  # an unreadable index means its data file is never read
        assert set(found[kind]) & set(named), f"no warning about the {kind} entries: {lines}"
    assert_scores_of_its_compilation(tmp_path / "out.h5", cache, reference)
    assert run(regions, cache, tmp_path / "again.h5") == []  # every entry was replaced
    assert_scores_of_its_compilation(tmp_path / "again.h5", cache, reference)


@pytest.mark.slow
def test_garbage_entries_are_ignored_once_and_replaced(regions, good, reference, tmp_path):
    """Entries of the right size holding other bytes; numba's data files behind intact indexes,
    one of them the well-formed file of another kernel."""
    cache = copy_of(good, tmp_path)
    found = entries(cache)
    data = found["data"]
    shutil.copyfile(data[1], data[0])  # another kernel's compiled code under this kernel's name
    rng = np.random.default_rng(7)
    damaged = found["graphs"] + found["compile"] + data[1:]
    for path in damaged:
        path.write_bytes(rng.integers(0, 256, path.stat().st_size, dtype=np.uint8).tobytes())
    lines = run(regions, cache, tmp_path / "out.h5")
    named = warned_paths(lines)
    assert len(named) == len(set(named)), lines
    for path in found["graphs"] + found["compile"] + data[1:]:
        assert path in named, f"{path.name} not reported: {lines}"
    assert data[0].with_name(data[0].name.rsplit(".", 2)[0] + ".nbi") in named  # the index of the swapped file
    assert_scores_of_its_compilation(tmp_path / "out.h5", cache, reference)
    assert run(regions, cache, tmp_path / "again.h5") == []
    assert_scores_of_its_compilation(tmp_path / "again.h5", cache, reference)


@pytest.mark.slow
def test_entries_of_another_genolift_version_are_never_taken(regions, good, reference, tmp_path):
    other = "0.0.1.dev-other"
    foreign = tmp_path / "foreign"
    assert run(regions, foreign, tmp_path / "foreign.h5", version=other) == []
    cache = copy_of(foreign, tmp_path)
    assert run(regions, cache, tmp_path / "shared.h5") == []  # other names: neither read nor disturbed
    numba_folders = sorted(p.name for p in (cache / "numba").iterdir())
    assert numba_folders == sorted([f"genolift-{other}-numba-{_numba_version()}",
                                    f"genolift-{genolift.__version__}-numba-{_numba_version()}"])
    assert_scores_of_its_compilation(tmp_path / "shared.h5", cache, reference)

    renamed = copy_of(good, tmp_path / "renamed")  # the other version's entries under this version's names
    ours, theirs = entries(renamed), entries(foreign)
    for kind in ("graphs", "compile"):
        for mine, its in zip(ours[kind], theirs[kind]):
            shutil.copyfile(its, mine)
    lines = run(regions, renamed, tmp_path / "renamed.h5")
    assert sorted(warned_paths(lines)) == sorted(ours["graphs"] + ours["compile"]), lines
    assert any(other in line for line in lines), lines  # the graph says whose it is
    assert_scores_of_its_compilation(tmp_path / "renamed.h5", renamed, reference)


def _numba_version() -> str:
    import numba

    return numba.__version__


@pytest.mark.slow
def test_a_cache_path_that_is_a_file_only_means_computing_again(regions, reference, tmp_path):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder would be")
    assert run(regions, blocked, tmp_path / "out.h5") == []
    assert blocked.read_text() == "a file where the cache folder would be"
    got = scores(tmp_path / "out.h5")  # the compilation measured by the run itself, recorded nowhere
    matches = []
    for choice in ("plain", "xla"):
        expected = reference(choice)
        matches.append(all(np.array_equal(got[name], expected[name]) for name in expected))
    assert any(matches), "the scores are those of neither compilation"


@pytest.mark.slow
def test_four_processes_fill_one_empty_cache_at_once(regions, reference, tmp_path):
    cache = tmp_path / "cache"
    outs = [tmp_path / f"out{i}.h5" for i in range(4)]
    procs = [subprocess.Popen(_command(regions, out), env=_environment(cache), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for out in outs]
    errors = [proc.communicate(timeout=600)[1] for proc in procs]
    for proc, err in zip(procs, errors):
        assert proc.returncode == 0, err[-3000:]
        assert WARNING not in err, err  # entries appear whole: none is ever read half-written
    first = scores(outs[0])
    for out in outs[1:]:
        assert_same_scores(scores(out), first)  # the first record written holds for all four
    assert_scores_of_its_compilation(outs[0], cache, reference)
    found = entries(cache)
    assert len(found["graphs"]) == 1 and all(found.values())
    assert not [p for p in cache.rglob("*") if ".tmp" in p.name]  # no temporary file left behind
    assert run(regions, cache, tmp_path / "again.h5") == []
    assert_same_scores(scores(tmp_path / "again.h5"), first)
