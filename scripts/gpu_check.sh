#!/usr/bin/env bash
# The one prepared check for a lent GPU (issue 13, "On a real GPU"): in one call of at most
# ~8 minutes it finds or unpacks the Vulkan loader, runs the kernel suite against the
# references on Dawn, the matmul and attention benchmarks (GFLOP/s, % of the fp32 and f16
# peaks) on Dawn and on Deno's wgpu, and a short training run of each preset that fits the
# adapter, and writes ONE results file (rewritten after every stage, so a run cut short still
# leaves what it measured):
#   $OUT/gpu_check.json (+ gpu_check.log) when $OUT is set (the device tool), else bench/gpu/.
#
#   scripts/gpu_check.sh [--quick] [--adapter dawn|wgpu] [--budget SECONDS] [--prepare]
#
# --quick    a dry run sized for SwiftShader/lavapipe on 2 cores: four matmul kernel cases, small
#            matmuls, tiny attention, the tiny preset trained and the 1b preset's refusal
#            on one adapter: 4 minutes on Dawn/SwiftShader, ~10 on wgpu/lavapipe with an empty
#            shader cache (lavapipe compiles the tiled attention slowly), on 2 loaded cores.
# --adapter  quick: the one adapter (default dawn); full run: the adapter of the kernel suite and
#            the trainings (default dawn; the other one is benchmarked and trains tiny and 20m).
# --budget   seconds for the whole check (default 480, quick 900): every stage's time limit is
#            cut to what is left, so the results file is written before the device call ends.
# --prepare  run HERE (in the checkout the device call sends) before a device call: puts what
#            the bare device machine lacks into .gpu/ (ignored by git; name it in `carry`):
#            deno (xz, ~30 MB), Dawn's linux-x64 build of npm `webgpu` (xz, ~6 MB; node_modules
#            does not travel) and the Vulkan loader + GL vendor-neutral dispatch .debs (the
#            NVIDIA Vulkan driver needs libGLdispatch), and prints what the call will carry.
# Device call (README "GPU check"): run(command="scripts/gpu_check.sh", carry=[".gpu"],
#   timeout_s=570).
#
# Exit code: 0 all checks passed; 1 a check failed (see the file); 2 something needed is
# missing (the file's "missing" says what).
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0 PREPARE=0 ADAPTER=dawn BUDGET=""
usage() { echo "usage: scripts/gpu_check.sh [--quick] [--adapter dawn|wgpu] [--budget SECONDS] [--prepare]" >&2; exit 64; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --prepare) PREPARE=1 ;;
    --adapter) ADAPTER=${2:-}; shift; [[ $ADAPTER == dawn || $ADAPTER == wgpu ]] || usage ;;
    --budget) BUDGET=${2:-}; shift; [[ $BUDGET =~ ^[0-9]+$ ]] || usage ;;
    *) usage ;;
  esac
  shift
done
OTHER=$([ "$ADAPTER" = dawn ] && echo wgpu || echo dawn)
[ -n "$BUDGET" ] || BUDGET=$([ $QUICK = 1 ] && echo 900 || echo 480)

if [ "$PREPARE" = 1 ]; then
  set -e
  mkdir -p .gpu
  rm -rf .gpu/webgpu .gpu/*.deb .gpu/webgpu.tar.xz
  # (Compressing deno takes minutes on 2 cores: only when the binary is newer.)
  [ .gpu/deno.xz -nt node_modules/.bin/deno ] || xz -T2 -6 -c node_modules/.bin/deno >.gpu/deno.xz
  # The package's top-level files (index.js, package.json) and the linux-x64 addon, packed.
  (g=$PWD/.gpu; cd node_modules && tar -cJf "$g/webgpu.tar.xz" $(find webgpu -maxdepth 1 -type f) webgpu/dist/linux-x64)
  # The device README's loader set, amd64 whatever this machine is; Dawn and wgpu need only
  # libvulkan1 and, for NVIDIA's ICD (libGLX_nvidia), libglvnd0.
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  mkdir -p /tmp/amd64/partial
  { apt-get "${o[@]}" update -qq && (cd .gpu && apt-get "${o[@]}" download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2); } >/dev/null 2>&1 ||
    echo "prepare: apt-get download of the loaders failed (offline?); the device machine must have its own"
  ls -la .gpu
  tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  gpu=$(du -sb .gpu | cut -f1)
  echo "prepare: the call carries $(( (tree + gpu) / 1048576 )) MiB (working tree $(( tree / 1048576 )) + .gpu $(( gpu / 1048576 ))) of its 64 MiB"
  [ $(( tree + gpu )) -lt $(( 62 * 1048576 )) ] || { echo "prepare: over the limit: remove untracked files from the checkout" >&2; exit 1; }
  exit 0
fi

RESULTS_DIR="${OUT:-bench/gpu}"
mkdir -p "$RESULTS_DIR"
RESULTS="$RESULTS_DIR/gpu_check.json"
LOG="$RESULTS_DIR/gpu_check.log"
: >"$LOG"
START=$(date +%s)
declare -a MISSING=() CHECKS=()
log() { echo "gpu_check: $*" | tee -a "$LOG" >&2; }
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()[-4000:]))' 2>/dev/null || echo '""'; }
# The line on stdin when it is one valid JSON value (a line cut off by a kill is not), else nothing.
json_ok() { python3 -c 'import json,sys; s=sys.stdin.read().strip(); json.loads(s); print(s)' 2>/dev/null; }
GPU_NAME=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | json_str)
[ -n "$GPU_NAME" ] || GPU_NAME='""'

write_results() {
  local missing checks
  missing="" checks=""
  [ ${#MISSING[@]} -gt 0 ] && missing=$(printf '%s,' "${MISSING[@]}")
  [ ${#CHECKS[@]} -gt 0 ] && checks=$(printf '%s,' "${CHECKS[@]}")
  missing="[${missing%,}]" checks="[${checks%,}]"
  cat >"$RESULTS.tmp" <<EOF
{"format":"webloco-gpu-check/2","date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","quick":$([ $QUICK = 1 ] && echo true || echo false),"adapter":"$ADAPTER","budgetSeconds":$BUDGET,"seconds":$(( $(date +%s) - START )),"host":"$(uname -srm)","cpus":$(nproc),"gpu":$GPU_NAME,"missing":$missing,"checks":$checks}
EOF
  mv "$RESULTS.tmp" "$RESULTS"
}
# check NAME STATUS DETAIL-JSON: one entry of the results file, written at once.
check() { CHECKS+=("{\"name\":\"$1\",\"status\":\"$2\",\"detail\":$3}"); log "$1: $2 ($(( $(date +%s) - START )) s)"; write_results; }
missing() { MISSING+=("$(printf %s "$1" | json_str)"); log "missing: $1"; }

# 1. The Vulkan loader (Dawn's and wgpu's only way to the NVIDIA driver under Linux) and, for
#    the NVIDIA ICD, libglvnd's dispatch library; unpacked from .gpu/ (or the device README's
#    .gl/) where the machine lacks them.
# (Not `ldconfig -p | grep -q`: with pipefail, grep's early exit makes the pipe fail.)
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
has_lib() { local l; l=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null); [[ $l == *"$1"* ]]; }
needs_debs() { ! has_lib libvulkan.so.1 || { [ -f "$NV_ICD" ] && ! has_lib libGLdispatch.so.0; }; }
if needs_debs; then
  for f in .gpu/*.deb .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" / && log "unpacked $f"; done
  ldconfig 2>/dev/null || true
fi
if has_lib libvulkan.so.1; then
  check vulkan_loader ok '"libvulkan.so.1 found"'
else
  missing "libvulkan1 (no loader on this machine and no .gpu/*.deb: run --prepare where apt-get download works)"
  check vulkan_loader missing '"libvulkan.so.1 not found"'
fi
# The NVIDIA ICD sits outside the usual paths on the device machines (device README).
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$NV_ICD" ]; then export VK_DRIVER_FILES=$NV_ICD; fi
# Mesa's (lavapipe's) shader cache and Dawn's: somewhere writable, empty on a fresh machine.
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/webloco-gpu-cache}

# 2. Deno and Dawn (npm webgpu).
DENO=""
for d in node_modules/.bin/deno "$(command -v deno 2>/dev/null)"; do
  [ -n "$d" ] && [ -x "$d" ] && "$d" --version >/dev/null 2>&1 && { DENO=$d; break; }
done
# xz, or Python's lzma where an image lacks xz-utils.
unxz_to() { if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else
  python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi; }
untar_xz() { if command -v xz >/dev/null; then tar -C "$2" -xJf "$1"; else
  python3 -c 'import sys,tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi; }
if [ -z "$DENO" ] && [ -f .gpu/deno.xz ]; then
  unxz_to .gpu/deno.xz /tmp/webloco-deno && chmod +x /tmp/webloco-deno && DENO=/tmp/webloco-deno
fi
[ -n "$DENO" ] || missing "deno (node_modules/.bin/deno, deno on PATH or .gpu/deno.xz from --prepare)"
if [ ! -f node_modules/webgpu/package.json ] && [ -f .gpu/webgpu.tar.xz ]; then
  # node_modules arrives as a dangling link to the shared install, or not at all.
  { [ -L node_modules ] && [ ! -e node_modules ] && rm node_modules; } || true
  mkdir -p node_modules && untar_xz .gpu/webgpu.tar.xz node_modules
fi
[ -f node_modules/webgpu/package.json ] || missing "npm webgpu (Dawn): node_modules/webgpu or .gpu/webgpu.tar.xz from --prepare"
if [ ${#MISSING[@]} -gt 0 ]; then
  write_results
  exit 2
fi
log "deno $("$DENO" --version | head -1) · budget ${BUDGET} s"

# run_stage NAME LIMIT ADAPTER CMD...: runs CMD (a deno subcommand and its arguments) with
# WEBLOCO_GPU=ADAPTER under min(LIMIT, what is left of the budget − 10 s), then records the last
# JSON line of its stdout as NAME (ok / refused), or its output's tail as a failure. A stage
# with under 15 s left is skipped, recorded as such.
FAILED=0
run_stage() {
  local name=$1 limit=$2 adapter=$3; shift 3
  local left=$(( BUDGET - ($(date +%s) - START) - 10 ))
  [ $left -lt $limit ] && limit=$left
  if [ $limit -lt 15 ]; then check "$name" skipped '"the budget was spent"'; return; fi
  local out=/tmp/gpu_check_$name.txt
  WEBLOCO_GPU=$adapter timeout -k 5 "$limit" "$DENO" "$@" >"$out" 2>&1
  local rc=$?
  sed 's/\x1b\[[0-9;]*m//g' "$out" >>"$LOG"
  local line; line=$(grep -a '^{' "$out" | tail -1 | json_ok)
  if [ $rc = 0 ] && [ -n "$line" ]; then
    if [[ $line == *'"refused"'* ]]; then check "$name" refused "$line"; else check "$name" ok "$line"; fi
  else
    FAILED=1
    local why="rc $rc"; [[ $rc == 124 || $rc == 137 ]] && why="$why, past its $limit s"
    # The output's tail, and the last JSON line it printed (a partial result) when there is one.
    check "$name" "failed ($why)" "{\"partial\":${line:-null},\"output\":$(sed 's/\x1b\[[0-9;]*m//g' "$out" | json_str)}"
  fi
}
# --no-check below: type-checking needs node_modules/@webgpu/types, which need not travel; the
# code was type-checked where it was written.
RUN=(run -A --unstable-webgpu --no-check scripts/gpu_check.ts)
# 3 steps a preset; the largest take fewer sequences (1b: one of 2048 tokens).
train() { run_stage "train_${1}_$2" "$3" "$2" "${RUN[@]}" --train "$1" --adapter "$2" --steps 3 --batch "$4"; }

# 3. The kernel suite against the TypeScript references. Quick: the four matmul layouts of one
#    odd shape (SwiftShader compiles each pipeline slowly). Its line is deno test's summary.
FILTER=(); [ $QUICK = 1 ] && FILTER=(--filter "matmul matches reference on 1×300×7")
kernels() {
  local left=$(( BUDGET - ($(date +%s) - START) - 10 )) limit=$1 out=/tmp/gpu_check_kernels.txt
  [ $left -lt $limit ] && limit=$left
  WEBLOCO_GPU=$ADAPTER timeout -k 5 "$limit" "$DENO" test -A --unstable-webgpu --no-check "${FILTER[@]}" \
    test/kernels_test.ts >"$out" 2>&1
  local rc=$?
  sed 's/\x1b\[[0-9;]*m//g' "$out" >>"$LOG"
  local summary; summary=$(sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -aE '^(ok|FAILED) \|' | tail -1)
  if [ $rc = 0 ]; then check "kernels_$ADAPTER" ok "$(echo "$summary" | json_str)"; else
    FAILED=1
    local why="rc $rc"; [[ $rc == 124 || $rc == 137 ]] && why="$why, past its $limit s"
    # deno test ends with its failures and errors: the output's tail holds them.
    check "kernels_$ADAPTER" "failed ($why)" "$(sed 's/\x1b\[[0-9;]*m//g' "$out" | json_str)"
  fi
}

if [ $QUICK = 1 ]; then
  kernels 240
  run_stage "bench_$ADAPTER" 360 "$ADAPTER" "${RUN[@]}" --quick --adapter "$ADAPTER"
  train tiny "$ADAPTER" 300 4
  # At 4 sequences 1b needs ~38 GiB: refused by a software adapter's host-memory check.
  train 1b "$ADAPTER" 60 4
else
  # Order: what a first GPU run must bring back first. Estimated on an H200 (no GPU measured
  # yet; README "GPU check"): kernels 30–60 s, each bench 15–30 s, a preset ≤ 125m 5–20 s
  # (start, BPE encoding, pipelines), 1b 30–90 s (1.2 G parameters initialised in TypeScript).
  kernels 120
  run_stage "bench_$ADAPTER" 60 "$ADAPTER" "${RUN[@]}" --adapter "$ADAPTER"
  for p in tiny small base 20m; do train "$p" "$ADAPTER" 45 4; done
  train 125m "$ADAPTER" 60 2
  run_stage "bench_$OTHER" 60 "$OTHER" "${RUN[@]}" --adapter "$OTHER"
  train 1b "$ADAPTER" 120 1
  for p in tiny 20m; do train "$p" "$OTHER" 45 4; done
fi
log "results: $RESULTS ($(( $(date +%s) - START )) s)"
write_results
exit $FAILED
