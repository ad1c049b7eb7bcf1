#!/usr/bin/env nextflow
// genolift as a Nextflow pipeline: scatter with --shard, score, merge, bigWig, TF-MoDISco.
//
//   nextflow run scripts/nextflow/main.nf --model model.h5 --regions peaks.narrowPeak \
//       --genome genome.fa --shards 8 --outdir results
//
// On SLURM with GPUs, add a profile in nextflow.config, e.g.
//   process { executor = 'slurm'; withName: GENOLIFT_SCORE { clusterOptions = '--gres=gpu:1' } }
//
// The same pipeline as scripts/snakemake/Snakefile: the same parameters and defaults, the same
// genolift command lines (tests/test_pipelines.py compares them; Nextflow itself is not run by
// the tests) and one cache folder for every job.  See docs/pipelines.md.

nextflow.enable.dsl = 2

params.model = null
params.regions = null
params.genome = null
params.shards = 4
params.shuffles = 10
params.seed = 0
params.batch_size = 256
params.chunk_size = 256
params.modisco_window = 200
params.modisco_seqlets = 2000
params.extra = ''
params.outdir = 'results'
// one genolift cache folder for every job (compile choices, read graphs, shuffle kernels), so
// that all shards take the compilation the first one records and give the same bits
params.cache_dir = "${launchDir}/.genolift-cache"

process GENOLIFT_SCORE {
    tag "shard ${i}/${params.shards}"
    input:
    tuple val(i), path(model), path(regions), path(genome)
    output:
    path "shard_${i}.h5"
    script:
    """
    export GENOLIFT_CACHE_DIR='${params.cache_dir}'
    genolift score ${model} ${regions} -g ${genome} -o shard_${i}.h5 \\
        --shard ${i}/${params.shards} --shuffles ${params.shuffles} --seed ${params.seed} \\
        --batch-size ${params.batch_size} --chunk-size ${params.chunk_size} --resume --force ${params.extra} \\
        --log score_shard_${i}.log
    """
}

process GENOLIFT_MERGE {
    publishDir params.outdir, mode: 'copy'
    input:
    path shards
    output:
    path "scores.h5"
    script:
    """
    genolift merge ${shards} -o scores.h5 --force
    """
}

process GENOLIFT_BIGWIG {
    publishDir params.outdir, mode: 'copy'
    input:
    tuple path(scores), path(genome)
    output:
    path "scores.bw"
    script:
    """
    genolift bigwig ${scores} -g ${genome} -o scores.bw --force
    """
}

process MODISCO {
    publishDir params.outdir, mode: 'copy'
    input:
    path scores
    output:
    path "modisco.h5"
    script:
    """
    modisco motifs -i ${scores} -n ${params.modisco_seqlets} -w ${params.modisco_window} -o modisco.h5
    """
}

workflow {
    model = file(params.model, checkIfExists: true)
    regions = file(params.regions, checkIfExists: true)
    genome = file(params.genome, checkIfExists: true)
    fai = file("${params.genome}.fai")
    shards = Channel.of(0..<params.shards).map { i -> tuple(i, model, regions, genome) }
    scored = GENOLIFT_SCORE(shards)
    merged = GENOLIFT_MERGE(scored.collect())
    GENOLIFT_BIGWIG(merged.map { s -> tuple(s, genome) })
    MODISCO(merged)
}
