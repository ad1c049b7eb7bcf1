#!/usr/bin/env python
"""Generate the small, synthetic test data set in ``test_data/``.

Run from the repository root::

    python scripts/make_test_data.py            # writes into test_data/
    python scripts/make_test_data.py --out DIR  # writes into DIR

Everything is synthetic and deterministic (fixed seeds), CPU only, and takes
about 40 seconds on two cores.  Needs numpy, h5py, pyfaidx, tensorflow (with its
bundled Keras 3) and, for the Keras-2 HDF5 model, the ``tf_keras`` package.

What it makes, and why
----------------------
example_genome.fa (+ .fai)
    A three-chromosome genome (chr1 250 kb, chr2 150 kb, chr3 100 kb; 60-column
    lines) of i.i.d. bases with frequencies A,C,G,T = 0.3,0.2,0.2,0.3.  chr2 holds
    a 1,000-bp run of N (0-based [99,500, 100,500)) and chr3 holds four 2-kb
    soft-masked (lowercase) blocks, one centred on a peak summit, so genome
    access, N handling and case handling can be tested.
motifs.json
    The two motifs planted everywhere: ``motif_a`` (GATA-like) and ``motif_b``
    (E-box-like), each with its consensus and a 4 x w PWM (rows A,C,G,T,
    columns = motif positions, probabilities).  The consensus base has
    probability 0.95 (0.9 at the two end positions); see MOTIFS below for why
    not weaker.
example_peaks.narrowPeak
    300 non-overlapping peaks (standard 10-column narrowPeak, sorted by chrom and
    start, names peak_0..peak_299), widths 150-400, at least 600 bp from the
    chromosome ends and from the N run.  Each peak carries 1-3 motif instances
    (motif A only, motif B only, or both; 100 peaks each) sampled from the PWMs
    and planted into the genome, on either strand, inside [summit-60, summit+60).
    Attribution scores around summits should therefore light up the motifs.
example_peaks.motifs.tsv
    Where each instance was planted, one per line after a header line:
    peak, motif (motif_a/motif_b), start, end (0-based, half-open genome
    coordinates on the peak's chromosome), strand (+/-), and the planted
    sequence as read on the + strand (uppercase even where soft-masked).
example_regions.bed
    BED3 with the first 40 peaks (chrom, start, end).
example_seqs.fa
    20 sequences of exactly 200 bp (the model's input length): the genome
    windows [summit-100, summit+100) of peaks 0-19, named seq_0..seq_19.  seq_10
    is partly lowercase (positions 50-129) and seq_15 has 5 Ns (positions 20-24).
example_model.keras, example_model_keras3.h5, example_model.h5
    One small two-task CNN (input (200, 4) "sequence"; outputs sigmoid
    P(motif A present), P(motif B present)), trained with Keras 3 on 8,000
    simulated sequences (plus their reverse complements) and validated on
    2,000 more; layer names sequence, conv1, bn1, relu1, pool1, conv2, pool2,
    flatten, dense1, dropout, output.  Saved uncompiled, three ways: Keras 3 native format, Keras 3
    writing legacy HDF5, and tf.keras 2 (``tf_keras``, in a subprocess) writing
    a genuine Keras-2 HDF5 file with the same weights (keras_version 2.x).
    The script checks that Keras 3 loads all three (safe_mode=True) and
    predicts the same values.  (Keras 3 loads the Keras-2 file with
    ``model.inputs``/``model.outputs`` as one-element lists, and ``model.input``
    is then a list too.)
example_model_predictions.npz
    Reference inputs/outputs: ``X`` (16, 200, 4) float32 one-hot (rows 0-7 =
    seq_0..seq_7 of example_seqs.fa, rows 8-15 = simulated sequences with
    neither/A/B/both motifs, two each), ``y`` (16, 2) = the model's predictions,
    ``logits`` (16, 2) float64 = pre-sigmoid values (the flatten activations
    through dense1 and output in float64), and ``names`` (16,) str.

The genome, peaks, motif and sequence files are byte-identical on every run.
Model weights are reproducible on the same platform (op determinism is on),
but may differ in the last bits across CPUs/TensorFlow builds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------
# constants
# ----------------------------------------------------------------------------

BASE_SEED = 20240611
ALPHABET = "ACGT"
BACKGROUND = np.array([0.3, 0.2, 0.2, 0.3])          # A, C, G, T
LINE_WIDTH = 60

CHROM_SIZES = {"chr1": 250_000, "chr2": 150_000, "chr3": 100_000}
N_RUN = ("chr2", 99_500, 100_500)                     # 1,000 bp of N
SOFTMASK_BLOCKS = [("chr3", 10_000, 12_000), ("chr3", 45_000, 47_000),
                   ("chr3", 80_000, 82_000)]           # + one placed over a peak
SOFTMASK_WIDTH = 2_000

N_PEAKS = 300
PEAK_WIDTH_RANGE = (150, 400)
EDGE_MARGIN = 600                                      # from chrom ends and the N run
MIN_PEAK_GAP = 100
MOTIF_HALF_WINDOW = 60                                 # instances in [summit-60, summit+60)

SEQ_LEN = 200
N_EXAMPLE_SEQS = 20
N_REGIONS = 40
LOWERCASE_SEQ, LOWERCASE_SPAN = 10, (50, 130)
N_SEQ, N_SPAN = 15, (20, 25)

N_SIM = 8_000
N_VAL = 2_000
EPOCHS = 16                                            # + up to MAX_EXTRA_EPOCHS if needed
MAX_EXTRA_EPOCHS = 12
LEARNING_RATE = 1e-3                                   # after a one-epoch linear warm-up
BATCH_SIZE = 128
MIN_VAL_ACCURACY = 0.9
TOLERANCE = 1e-5

# Motifs: consensus and per-position probability of the consensus base; the rest
# of each column goes to the other three bases in proportion to the background.
# At 0.9 per position an ideal PWM scanner only reaches ~0.93 accuracy on the
# simulated task (a 10-mer among 382 background windows), too close to the 0.9
# the model must exceed, so the core positions are 0.95 and the flanks 0.9.
MOTIFS = {
    "motif_a": {"description": "GATA-like", "consensus": "CAGATAAGGA",
                "strength": [0.90] + [0.95] * 8 + [0.90]},
    "motif_b": {"description": "E-box-like", "consensus": "ACCAGCTGTT",
                "strength": [0.90] + [0.95] * 8 + [0.90]},
}

LAYER_NAMES = ["sequence", "conv1", "bn1", "relu1", "pool1", "conv2", "pool2",
               "flatten", "dense1", "dropout", "output"]


def rng_for(name: str) -> np.random.Generator:
    """An independent, named random stream (changing one part leaves the others)."""
    return np.random.default_rng([BASE_SEED, zlib.crc32(name.encode())])


# ----------------------------------------------------------------------------
# motifs
# ----------------------------------------------------------------------------

def make_pwm(consensus: str, strength: list[float]) -> np.ndarray:
    """4 x w PWM (rows A,C,G,T) with the given consensus-base probabilities.

    Entries are multiples of 1e-4 that sum to exactly 1 in every column.
    """
    units = np.zeros((4, len(consensus)), dtype=np.int64)
    for j, (base, p) in enumerate(zip(consensus, strength)):
        k = ALPHABET.index(base)
        rest = int(round((1.0 - p) * 10_000))
        share = np.delete(BACKGROUND, k) / np.delete(BACKGROUND, k).sum() * rest
        floor = np.floor(share).astype(np.int64)
        floor[np.argsort(floor - share)[:rest - floor.sum()]] += 1   # largest remainders
        units[:, j] = np.insert(floor, k, 10_000 - rest)
    return units / 10_000


def make_motifs() -> dict[str, np.ndarray]:
    return {name: make_pwm(m["consensus"], m["strength"]) for name, m in MOTIFS.items()}


def sample_instance(pwm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One motif instance (int codes 0-3) drawn column by column from the PWM."""
    cdf = np.cumsum(pwm, axis=0)
    u = rng.random(pwm.shape[1])
    return np.minimum((u[None, :] > cdf).sum(axis=0), 3).astype(np.int8)


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    return (3 - codes)[::-1]


def codes_to_str(codes: np.ndarray) -> str:
    return "".join(ALPHABET[c] for c in codes)


def write_motifs_json(path: Path, pwms: dict[str, np.ndarray]) -> None:
    """motifs.json: {name: {description, consensus, alphabet, pwm (rows A,C,G,T)}}."""
    blocks = []
    for name, pwm in pwms.items():
        rows = ",\n      ".join(json.dumps(row) for row in pwm.tolist())
        blocks.append(f'  "{name}": {{\n'
                      f'    "description": {json.dumps(MOTIFS[name]["description"])},\n'
                      f'    "consensus": {json.dumps(MOTIFS[name]["consensus"])},\n'
                      f'    "alphabet": "{ALPHABET}",\n'
                      f'    "pwm": [\n      {rows}\n    ]\n  }}')
    path.write_text("{\n" + ",\n".join(blocks) + "\n}\n")
    assert np.array_equal(np.array(json.loads(path.read_text())[name]["pwm"]), pwm)


# ----------------------------------------------------------------------------
# genome and peaks
# ----------------------------------------------------------------------------

def make_background(length: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(4, size=length, p=BACKGROUND).astype(np.int8)


def allowed_intervals(chrom: str) -> list[tuple[int, int]]:
    """Where peaks may lie: EDGE_MARGIN away from the ends and from the N run."""
    size = CHROM_SIZES[chrom]
    if chrom != N_RUN[0]:
        return [(EDGE_MARGIN, size - EDGE_MARGIN)]
    return [(EDGE_MARGIN, N_RUN[1] - EDGE_MARGIN), (N_RUN[2] + EDGE_MARGIN, size - EDGE_MARGIN)]


def peaks_per_chrom() -> dict[str, int]:
    total = sum(CHROM_SIZES.values())
    counts = {c: N_PEAKS * s // total for c, s in CHROM_SIZES.items()}
    counts["chr1"] += N_PEAKS - sum(counts.values())
    return counts


def place_peaks(chrom: str, n: int, rng: np.random.Generator) -> list[dict]:
    """n non-overlapping peaks (rejection sampling) with summits >= 60 bp inside."""
    intervals = allowed_intervals(chrom)
    lengths = np.array([b - a for a, b in intervals], dtype=float)
    taken: list[tuple[int, int]] = []
    while len(taken) < n:
        lo, hi = intervals[rng.choice(len(intervals), p=lengths / lengths.sum())]
        width = int(rng.integers(PEAK_WIDTH_RANGE[0], PEAK_WIDTH_RANGE[1] + 1))
        start = int(rng.integers(lo, hi - width + 1))
        end = start + width
        if all(end + MIN_PEAK_GAP <= s or start >= e + MIN_PEAK_GAP for s, e in taken):
            taken.append((start, end))
    peaks = []
    for start, end in sorted(taken):
        offset = int(rng.integers(MOTIF_HALF_WINDOW, end - start - MOTIF_HALF_WINDOW + 1))
        peaks.append({"chrom": chrom, "start": start, "end": end, "summit": offset})
    return peaks


def make_peaks(rng: np.random.Generator) -> list[dict]:
    peaks = []
    for chrom, n in peaks_per_chrom().items():
        peaks.extend(place_peaks(chrom, n, rng))
    peaks.sort(key=lambda p: (p["chrom"], p["start"]))
    kinds = np.repeat(["a", "b", "both"], N_PEAKS // 3)
    rng.shuffle(kinds)
    for i, (peak, kind) in enumerate(zip(peaks, kinds)):
        peak["name"] = f"peak_{i}"
        peak["kind"] = str(kind)
    return peaks


def motif_names_for(kind: str, rng: np.random.Generator) -> list[str]:
    """1-3 motif names: A only, B only, or both (one of each plus maybe a third)."""
    if kind in ("a", "b"):
        return [f"motif_{kind}"] * int(rng.integers(1, 4))
    names = ["motif_a", "motif_b"]
    if rng.random() < 0.5:
        names.append(str(rng.choice(names)))
    return names


def choose_positions(widths: list[int], lo: int, hi: int,
                     rng: np.random.Generator) -> list[int]:
    """Non-overlapping starts for motifs of the given widths, each within [lo, hi)."""
    while True:
        starts = [int(rng.integers(lo, hi - w + 1)) for w in widths]
        spans = sorted(zip(starts, widths))
        if all(s1 + w1 <= s2 for (s1, w1), (s2, _) in zip(spans, spans[1:])):
            return starts


def plant(seq: np.ndarray, pos: int, pwm: np.ndarray, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """Plant one sampled instance at pos on a random strand; returns (strand, + strand codes)."""
    inst = sample_instance(pwm, rng)
    strand = "+" if rng.random() < 0.5 else "-"
    if strand == "-":
        inst = reverse_complement_codes(inst)
    seq[pos:pos + len(inst)] = inst
    return strand, inst


def plant_peak_motifs(genome: dict[str, np.ndarray], peaks: list[dict],
                      pwms: dict[str, np.ndarray], rng: np.random.Generator) -> list[dict]:
    sites = []
    for peak in peaks:
        summit = peak["start"] + peak["summit"]
        names = motif_names_for(peak["kind"], rng)
        starts = choose_positions([pwms[n].shape[1] for n in names],
                                  summit - MOTIF_HALF_WINDOW, summit + MOTIF_HALF_WINDOW, rng)
        for name, pos in sorted(zip(names, starts), key=lambda t: t[1]):
            strand, inst = plant(genome[peak["chrom"]], pos, pwms[name], rng)
            sites.append({"peak": peak["name"], "motif": name, "chrom": peak["chrom"],
                          "start": pos, "end": pos + len(inst), "strand": strand,
                          "sequence": codes_to_str(inst)})
    return sites


def softmask_blocks(peaks: list[dict]) -> list[tuple[str, int, int]]:
    """The fixed blocks plus one 2-kb block centred on the middle chr3 peak's summit."""
    chr3 = [p for p in peaks if p["chrom"] == "chr3"]
    mid = chr3[len(chr3) // 2]
    centre = mid["start"] + mid["summit"]
    return SOFTMASK_BLOCKS + [("chr3", centre - SOFTMASK_WIDTH // 2, centre + SOFTMASK_WIDTH // 2)]


def render_genome(genome: dict[str, np.ndarray],
                  blocks: list[tuple[str, int, int]]) -> dict[str, bytes]:
    """Int codes → ASCII, with the N run and the lowercase blocks applied."""
    lut = np.frombuffer(b"ACGTN", dtype=np.uint8)
    out = {}
    for chrom, codes in genome.items():
        seq = lut[codes].copy()
        if chrom == N_RUN[0]:
            seq[N_RUN[1]:N_RUN[2]] = ord("N")
        for c, s, e in blocks:
            if c == chrom:
                seq[s:e] |= 0x20                       # ASCII letters → lowercase
        out[chrom] = seq.tobytes()
    return out


def write_fasta(path: Path, records: dict[str, bytes | str]) -> None:
    with open(path, "wb") as fh:
        for name, seq in records.items():
            seq = seq.encode() if isinstance(seq, str) else seq
            fh.write(b">" + name.encode() + b"\n")
            for i in range(0, len(seq), LINE_WIDTH):
                fh.write(seq[i:i + LINE_WIDTH] + b"\n")


def index_fasta(path: Path) -> None:
    import pyfaidx

    fai = path.with_name(path.name + ".fai")
    if fai.exists():
        fai.unlink()
    pyfaidx.Faidx(str(path), build_index=True).close()


def write_narrowpeak(path: Path, peaks: list[dict], sites: list[dict],
                     rng: np.random.Generator) -> None:
    n_sites = {p["name"]: 0 for p in peaks}
    for s in sites:
        n_sites[s["peak"]] += 1
    with open(path, "w") as fh:
        for p in peaks:
            signal = 5.0 + 4.0 * n_sites[p["name"]] + rng.gamma(2.0, 2.0)
            pval = 3.0 + 2.5 * signal + rng.normal(0.0, 1.0)
            qval = max(pval - 2.0 - rng.random(), 0.5)
            score = min(1000, int(round(40 * signal)))
            fh.write(f"{p['chrom']}\t{p['start']}\t{p['end']}\t{p['name']}\t{score}\t.\t"
                     f"{signal:.4f}\t{pval:.4f}\t{qval:.4f}\t{p['summit']}\n")


def write_sites(path: Path, sites: list[dict]) -> None:
    with open(path, "w") as fh:
        fh.write("peak\tmotif\tstart\tend\tstrand\tsequence\n")
        for s in sites:
            fh.write(f"{s['peak']}\t{s['motif']}\t{s['start']}\t{s['end']}\t"
                     f"{s['strand']}\t{s['sequence']}\n")


def write_bed3(path: Path, peaks: list[dict]) -> None:
    with open(path, "w") as fh:
        for p in peaks[:N_REGIONS]:
            fh.write(f"{p['chrom']}\t{p['start']}\t{p['end']}\n")


def example_sequences(genome_text: dict[str, bytes], peaks: list[dict]) -> dict[str, str]:
    """Windows [summit-100, summit+100) of the first peaks; one lowercased, one with Ns."""
    seqs = {}
    for i, p in enumerate(peaks[:N_EXAMPLE_SEQS]):
        summit = p["start"] + p["summit"]
        seqs[f"seq_{i}"] = genome_text[p["chrom"]][summit - SEQ_LEN // 2:summit + SEQ_LEN // 2].decode()
    name, (a, b) = f"seq_{LOWERCASE_SEQ}", LOWERCASE_SPAN
    seqs[name] = seqs[name][:a] + seqs[name][a:b].lower() + seqs[name][b:]
    name, (a, b) = f"seq_{N_SEQ}", N_SPAN
    seqs[name] = seqs[name][:a] + "N" * (b - a) + seqs[name][b:]
    assert all(len(s) == SEQ_LEN for s in seqs.values())
    return seqs


def make_genome_files(out: Path, pwms: dict[str, np.ndarray]) -> dict[str, str]:
    """Genome, peaks, motif sites, regions and example sequences; returns the sequences."""
    genome = {c: make_background(n, rng_for(f"genome/{c}")) for c, n in CHROM_SIZES.items()}
    peaks = make_peaks(rng_for("peaks"))
    sites = plant_peak_motifs(genome, peaks, pwms, rng_for("peak-motifs"))
    genome_text = render_genome(genome, softmask_blocks(peaks))
    write_fasta(out / "example_genome.fa", genome_text)
    index_fasta(out / "example_genome.fa")
    write_narrowpeak(out / "example_peaks.narrowPeak", peaks, sites, rng_for("peak-scores"))
    write_sites(out / "example_peaks.motifs.tsv", sites)
    write_bed3(out / "example_regions.bed", peaks)
    seqs = example_sequences(genome_text, peaks)
    write_fasta(out / "example_seqs.fa", seqs)
    check_genome_files(out, peaks, sites)
    return seqs


def check_genome_files(out: Path, peaks: list[dict], sites: list[dict]) -> None:
    """Re-read what was written and check the planted sites and peak constraints."""
    import pyfaidx

    fa = pyfaidx.Fasta(str(out / "example_genome.fa"), as_raw=True, sequence_always_upper=False)
    assert {k: len(v) for k, v in fa.records.items()} == CHROM_SIZES
    summits = {p["name"]: (p["chrom"], p["start"] + p["summit"]) for p in peaks}
    for s in sites:
        chrom, summit = summits[s["peak"]]
        assert summit - MOTIF_HALF_WINDOW <= s["start"] and s["end"] <= summit + MOTIF_HALF_WINDOW, s
        assert fa[chrom][s["start"]:s["end"]].upper() == s["sequence"], s
    lines = (out / "example_peaks.narrowPeak").read_text().splitlines()
    assert len(lines) == N_PEAKS
    prev = ("", -1, -1)
    for line in lines:
        f = line.split("\t")
        chrom, start, end, summit = f[0], int(f[1]), int(f[2]), int(f[9])
        assert len(f) == 10 and 0 <= summit < end - start
        assert PEAK_WIDTH_RANGE[0] <= end - start <= PEAK_WIDTH_RANGE[1]
        assert start >= EDGE_MARGIN and end <= CHROM_SIZES[chrom] - EDGE_MARGIN
        if chrom == N_RUN[0]:
            assert end <= N_RUN[1] - EDGE_MARGIN or start >= N_RUN[2] + EDGE_MARGIN
        assert (chrom, start) > prev[:2] and (chrom != prev[0] or start >= prev[2])
        prev = (chrom, start, end)
    fa.close()


# ----------------------------------------------------------------------------
# simulated training data
# ----------------------------------------------------------------------------

def simulate_sequence(has_a: bool, has_b: bool, pwms: dict[str, np.ndarray],
                      rng: np.random.Generator) -> np.ndarray:
    """One background sequence with 1-3 instances of each requested motif."""
    seq = make_background(SEQ_LEN, rng)
    names = []
    if has_a:
        names += ["motif_a"] * int(rng.integers(1, 4))
    if has_b:
        names += ["motif_b"] * int(rng.integers(1, 4))
    starts = choose_positions([pwms[n].shape[1] for n in names], 0, SEQ_LEN, rng) if names else []
    for name, pos in zip(names, starts):
        plant(seq, pos, pwms[name], rng)
    return seq


def simulate_dataset(labels: np.ndarray, pwms: dict[str, np.ndarray],
                     rng: np.random.Generator) -> np.ndarray:
    """int codes (n, SEQ_LEN) for the given (n, 2) presence labels."""
    return np.stack([simulate_sequence(bool(a), bool(b), pwms, rng) for a, b in labels])


def one_hot(codes: np.ndarray) -> np.ndarray:
    return np.eye(4, dtype=np.float32)[codes]


def one_hot_str(seq: str) -> np.ndarray:
    lookup = {b: i for i, b in enumerate(ALPHABET)}
    x = np.zeros((len(seq), 4), dtype=np.float32)
    for i, base in enumerate(seq.upper()):
        if base in lookup:
            x[i, lookup[base]] = 1.0
    return x


def simulate_labelled(n: int, pwms: dict[str, np.ndarray], rng: np.random.Generator):
    """n one-hot sequences with independent 50% presence labels for motif A and B."""
    labels = (rng.random((n, 2)) < 0.5).astype(np.float32)
    return one_hot(simulate_dataset(labels, pwms, rng)), labels


def make_training_data(pwms: dict[str, np.ndarray]):
    """(X, y) for training (N_SIM) and a separate validation set (N_VAL)."""
    return (simulate_labelled(N_SIM, pwms, rng_for("training")),
            simulate_labelled(N_VAL, pwms, rng_for("validation")))


def make_reference_inputs(seqs: dict[str, str], pwms: dict[str, np.ndarray]):
    """X (16, 200, 4): seq_0..seq_7, then two simulated each of none/A/B/both."""
    names = [f"seq_{i}" for i in range(8)]
    real = np.stack([one_hot_str(seqs[n]) for n in names])
    labels = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 1]])
    sim = one_hot(simulate_dataset(labels, pwms, rng_for("reference")))
    names += [f"sim_{i}_" + ("A" * a + "B" * b or "none") for i, (a, b) in enumerate(labels)]
    return np.concatenate([real, sim]).astype(np.float32), np.array(names)


# ----------------------------------------------------------------------------
# model (Keras 3)
# ----------------------------------------------------------------------------

def build_model(keras):
    """The test model; works with Keras 3 (``keras``) and tf.keras 2 (``tf_keras``)."""
    L = keras.layers
    inp = keras.Input(shape=(SEQ_LEN, 4), name="sequence")
    x = L.Conv1D(32, 12, padding="same", name="conv1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.Activation("relu", name="relu1")(x)
    x = L.MaxPooling1D(4, name="pool1")(x)
    x = L.Conv1D(32, 5, padding="valid", dilation_rate=2, activation="relu", name="conv2")(x)
    x = L.MaxPooling1D(pool_size=4, strides=2, name="pool2")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(32, activation="relu", name="dense1")(x)
    x = L.Dropout(0.2, name="dropout")(x)
    out = L.Dense(2, activation="sigmoid", name="output")(x)
    return keras.Model(inp, out, name="genolift_example")


def per_task_accuracy(model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = model.predict(X, batch_size=512, verbose=0)
    return ((p > 0.5) == (y > 0.5)).mean(axis=0)


def learning_rate_schedule(keras, steps_per_epoch: int):
    """Linear warm-up over the first epoch, then cosine decay to 30% by EPOCHS.

    Plain Adam at 1e-3 from the first step sometimes switches every dense1 unit
    off for good (its inputs are all non-negative and nearly the same for every
    sequence), so the rate starts 100x lower.
    """
    return keras.optimizers.schedules.CosineDecay(
        LEARNING_RATE / 100, decay_steps=(EPOCHS - 1) * steps_per_epoch, alpha=0.3,
        warmup_target=LEARNING_RATE, warmup_steps=steps_per_epoch)


def with_reverse_complements(X: np.ndarray, y: np.ndarray):
    """Training augmentation: every sequence also as its reverse complement."""
    return np.concatenate([X, X[:, ::-1, ::-1]]), np.concatenate([y, y])


def train_model(pwms: dict[str, np.ndarray]):
    """Train the Keras 3 model; exits if a task's validation accuracy stays < 0.9."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(BASE_SEED)
    tf.config.experimental.enable_op_determinism()
    (X, y), (Xv, yv) = make_training_data(pwms)
    X, y = with_reverse_complements(X, y)
    steps = -(-len(X) // BATCH_SIZE)
    model = build_model(keras)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate_schedule(keras, steps)),
                  loss="binary_crossentropy", metrics=["binary_accuracy"])
    fit = dict(batch_size=BATCH_SIZE, validation_data=(Xv, yv), verbose=2)
    model.fit(X, y, epochs=EPOCHS, **fit)
    acc, epochs = per_task_accuracy(model, Xv, yv), EPOCHS
    while acc.min() < MIN_VAL_ACCURACY and epochs < EPOCHS + MAX_EXTRA_EPOCHS:
        print(f"validation accuracy {acc.round(4)} < {MIN_VAL_ACCURACY}: training longer")
        model.fit(X, y, epochs=epochs + 2, initial_epoch=epochs, **fit)
        acc, epochs = per_task_accuracy(model, Xv, yv), epochs + 2
    print(f"validation accuracy after {epochs} epochs: motif A {acc[0]:.4f}, motif B {acc[1]:.4f}")
    if acc.min() < MIN_VAL_ACCURACY:
        sys.exit(f"error: validation accuracy {acc} below {MIN_VAL_ACCURACY}")
    return inference_copy(keras, model), acc


def inference_copy(keras, model):
    """The trained weights in a fresh, uncompiled model (no optimizer state in the files)."""
    clean = build_model(keras)
    clean.set_weights(model.get_weights())
    return clean


def float64_logits(model, X: np.ndarray) -> np.ndarray:
    """Pre-sigmoid outputs: flatten activations, then dense1 and output in float64."""
    import keras

    flat = keras.Model(model.input, model.get_layer("flatten").output).predict(X, verbose=0)
    w1, b1 = (w.astype(np.float64) for w in model.get_layer("dense1").get_weights())
    w2, b2 = (w.astype(np.float64) for w in model.get_layer("output").get_weights())
    hidden = np.maximum(flat.astype(np.float64) @ w1 + b1, 0.0)
    return hidden @ w2 + b2


def save_weights_npz(model, path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """Weights keyed "<layer>/<index>" plus X and y for the tf.keras writer to check."""
    arrays = {"__X__": X, "__y__": y}
    for layer in model.layers:
        for i, w in enumerate(layer.get_weights()):
            arrays[f"{layer.name}/{i}"] = w
    np.savez(path, **arrays)


def write_tf_keras_model(model, out_path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """Write a genuine Keras-2 HDF5 file with tf_keras in a separate process."""
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "weights.npz"
        save_weights_npz(model, npz, X, y)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_tf-keras-writer",
                        str(npz), str(out_path)], check=True, env=env)


def tf_keras_writer(npz_path: str, out_path: str) -> None:
    """(subprocess) Rebuild the model with tf_keras, set the weights, save as HDF5."""
    import tf_keras

    data = np.load(npz_path)
    model = build_model(tf_keras)
    for layer in model.layers:
        n = len(layer.get_weights())
        if n:
            layer.set_weights([data[f"{layer.name}/{i}"] for i in range(n)])
    diff = np.abs(model.predict(data["__X__"], verbose=0) - data["__y__"]).max()
    if diff >= TOLERANCE:
        sys.exit(f"error: tf_keras rebuild predicts differently (max abs diff {diff:.2e})")
    with warnings.catch_warnings():                   # "HDF5 ... is considered legacy"
        warnings.simplefilter("ignore", UserWarning)
        model.save(out_path, save_format="h5")
    print(f"tf_keras {tf_keras.__version__} wrote {out_path} (max abs diff {diff:.1e})")


def save_models(model, out: Path, X: np.ndarray, y: np.ndarray) -> list[Path]:
    paths = [out / "example_model.keras", out / "example_model_keras3.h5", out / "example_model.h5"]
    for p in paths:
        if p.exists():
            p.unlink()
    model.save(paths[0])
    model.save(paths[1])
    write_tf_keras_model(model, paths[2], X, y)
    return paths


def check_models(paths: list[Path], X: np.ndarray, y: np.ndarray) -> None:
    """Keras 3 must load every file in safe mode and predict y (and the h5 be Keras 2)."""
    import h5py
    import keras

    for path in paths:
        m = keras.saving.load_model(str(path), compile=False, safe_mode=True)
        assert [l.name for l in m.layers] == LAYER_NAMES, (path, [l.name for l in m.layers])
        pred = m.predict(X, verbose=0)
        pred = pred[0] if isinstance(pred, (list, tuple)) else pred
        diff = float(np.abs(pred - y).max())
        if diff >= TOLERANCE:
            sys.exit(f"error: {path.name} predicts differently (max abs diff {diff:.2e})")
        print(f"checked {path.name}: Keras 3 loads it, max abs diff {diff:.1e}")
    with h5py.File(paths[2], "r") as f:
        version = f.attrs["keras_version"]
        version = version.decode() if isinstance(version, bytes) else str(version)
        if not version.startswith("2.") or "model_config" not in f.attrs:
            sys.exit(f"error: {paths[2].name} is not a Keras-2 HDF5 file (keras_version {version})")


def make_model_files(out: Path, seqs: dict[str, str], pwms: dict[str, np.ndarray]) -> np.ndarray:
    model, acc = train_model(pwms)
    X, names = make_reference_inputs(seqs, pwms)
    y = model.predict(X, verbose=0)
    logits = float64_logits(model, X)
    if np.abs(1.0 / (1.0 + np.exp(-logits)) - y).max() >= TOLERANCE:
        sys.exit("error: sigmoid(logits) does not reproduce the predictions")
    np.savez(out / "example_model_predictions.npz", X=X, y=y.astype(np.float32),
             logits=logits, names=names)
    check_models(save_models(model, out, X, y), X, y)
    return acc


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------

def summarize(out: Path, acc: np.ndarray, seconds: float) -> None:
    total = 0
    for path in sorted(out.iterdir()):
        if path.is_file():
            total += path.stat().st_size
            print(f"  {path.name:36s} {path.stat().st_size:>10,d} bytes")
    print(f"  {'total':36s} {total:>10,d} bytes")
    print(f"validation accuracy: motif A {acc[0]:.4f}, motif B {acc[1]:.4f}; {seconds:.0f} s")
    if total > 3_000_000:
        sys.exit("error: test data larger than 3 MB")


def parse_args(argv: list[str]) -> argparse.Namespace:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=root / "test_data",
                        help="output directory (default: test_data/ of the repository)")
    parser.add_argument("--_tf-keras-writer", nargs=2, metavar=("NPZ", "H5"),
                        dest="tf_keras_writer", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"            # CPU only, before TensorFlow loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.tf_keras_writer:
        tf_keras_writer(*args.tf_keras_writer)
        return
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    pwms = make_motifs()
    write_motifs_json(args.out / "motifs.json", pwms)
    seqs = make_genome_files(args.out, pwms)
    acc = make_model_files(args.out, seqs, pwms)
    summarize(args.out, acc, time.time() - t0)


if __name__ == "__main__":
    main()
