#!/usr/bin/env bash
# One lease on a lent GPU, in one call: correctness on the card, the sanitizers,
# then the timings (4½ minutes on an H200, 2026-11-26).
#
#   bash bench/gpu_check.sh [OUTDIR]      (OUTDIR defaults to $OUT, else ./gpu_out)
#
# Needs python3 with numba-cuda, typer, rich, scipy, hypothesis and pytest (the
# device machine's image has them; CuPy and PyTorch CUDA add the library columns).
# Each step has its own time limit, so one slow step cannot eat the whole lease;
# a step that fails or times out is reported and the next one still runs; the
# script exits 1 if any step failed.
set -u
out=${1:-${OUT:-gpu_out}}
mkdir -p "$out"
export PYTHONPATH=$PWD NNLITE_REAL_GPU=1 PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/nnlite_numba
summary=()
failed=0

step() {  # step NAME SECONDS COMMAND...: run, log to $out/NAME.log, record the result
    local name=$1 limit=$2 start rc
    shift 2
    start=$(date +%s)
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || failed=1
    summary+=("$name: exit $rc in $(($(date +%s) - start)) s (limit $limit s)")
    tail -n 4 "$out/$name.log"
}

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total \
    --format=csv | tee "$out/card.txt"
python3 -c 'import numba, numba_cuda, numpy, sys; print(sys.version.split()[0], "numba",
numba.__version__, "numba-cuda", numba_cuda.__version__, "numpy", numpy.__version__)' \
    | tee -a "$out/card.txt"

# 1. every test marked gpu on the card, then the PTX lint (marked slow, not gpu)
step pytest 200 python3 -m pytest -q --maxfail=5 -p no:cacheprovider -m gpu tests
step ptx 120 python3 -m pytest -q -p no:cacheprovider tests/test_ptx.py
# 2. memcheck over every gpu test; racecheck over the kernels that share memory
#    (the GEMM tiles, the fused SGD step, the column sum, the training loop)
step memcheck 150 compute-sanitizer --tool memcheck --error-exitcode 9 \
    python3 -m pytest -q -x -p no:cacheprovider -m gpu tests
sel="dense_sgd_update or ragged or production_tiles or column_sum or train_batches"
step racecheck 150 compute-sanitizer --tool racecheck --error-exitcode 9 \
    python3 -m pytest -q -x -p no:cacheprovider tests/test_cuda_kernels.py -k "$sel"
# 3. timings: the production tiles at MLP sizes and one large shape, MNIST-shaped epochs,
#    one training step kernel by kernel, and nnlite compare
step bench 100 python3 bench/bench_cuda.py --repeats 10 \
    --sizes 64x784x128,512x784x128,4096x784x1024 --tiles "16x16x16 1x1 pipelined,64x64x16 4x4 contiguous pipelined,128x64x8 8x4 contiguous pipelined unrolled 2/SM" \
    --batches 32,128,512 --json "$out/bench_cuda.json"
step profile 120 python3 bench/profile_cuda_step.py --json "$out/profile.json"
step compare 90 sh -c "python3 cli.py compare --format json --epochs 3 >'$out/compare.json'"

printf '%s\n' "${summary[@]}"
exit "$failed"
