#!/usr/bin/env bash
# The one prepared check for a lent GPU (issue 13, "On a real GPU"): in one call of at most
# ~8 minutes it finds or unpacks the Vulkan loader, runs the kernel suite against the
# references on Dawn, the matmul benchmark (GFLOP/s, % of the fp32 peak) and a short training
# run of each preset that fits the adapter, and writes ONE results file:
#   $OUT/gpu_check.json when $OUT is set (the device tool), else bench/gpu/gpu_check.json.
#
#   scripts/gpu_check.sh [--quick] [--prepare]
#
# --quick    a dry run sized for SwiftShader on 2 cores: four matmul kernel cases, small matmuls,
#            the tiny preset trained and the 1b preset's refusal (~2 minutes).
# --prepare  run HERE before a device call: puts what the device machine lacks into .gpu/
#            (ignored by git; name it in the run's `carry`): deno (xz, ~40 MB, the binary is
#            92 MB and over the 64 MiB a call carries) and Dawn's linux-x64 build of npm
#            `webgpu` (node_modules is a link to the shared install, which does not travel),
#            and the Vulkan loader .debs when apt-get can download them.
# Device call: run(command="scripts/gpu_check.sh", carry=[".gpu"], timeout_s=540).
#
# Exit code: 0 all checks passed; 1 a check failed (see the file); 2 something needed is
# missing (the file's "missing" says what).
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0 PREPARE=0
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    --prepare) PREPARE=1 ;;
    *) echo "usage: scripts/gpu_check.sh [--quick] [--prepare]" >&2; exit 64 ;;
  esac
done

if [ "$PREPARE" = 1 ]; then
  set -e
  mkdir -p .gpu
  xz -T1 -6 -c node_modules/.bin/deno >.gpu/deno.xz
  rm -rf .gpu/webgpu && mkdir -p .gpu/webgpu/dist
  find node_modules/webgpu/ -maxdepth 1 -type f -exec cp {} .gpu/webgpu/ \;
  cp -r node_modules/webgpu/dist/linux-x64 .gpu/webgpu/dist/
  (cd .gpu && apt-get download libvulkan1 2>/dev/null) || echo "prepare: apt-get download libvulkan1 failed (offline?); the device machine must have its own loader"
  du -sh .gpu
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
# check NAME STATUS DETAIL-JSON: one entry of the results file.
check() { CHECKS+=("{\"name\":\"$1\",\"status\":\"$2\",\"detail\":$3}"); log "$1: $2"; }
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()[-4000:]))' 2>/dev/null || echo '""'; }

write_results() {
  local missing checks
  missing="" checks=""
  [ ${#MISSING[@]} -gt 0 ] && missing=$(printf '"%s",' "${MISSING[@]}")
  [ ${#CHECKS[@]} -gt 0 ] && checks=$(printf '%s,' "${CHECKS[@]}")
  missing="[${missing%,}]" checks="[${checks%,}]"
  cat >"$RESULTS" <<EOF
{"format":"webloco-gpu-check/1","date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","quick":$([ $QUICK = 1 ] && echo true || echo false),"seconds":$(( $(date +%s) - START )),"host":"$(uname -srm)","gpu":$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | json_str),"missing":$missing,"checks":$checks}
EOF
  log "results: $RESULTS"
}

# 1. The Vulkan loader (Dawn's only way to the NVIDIA driver under Linux).
# (Not `ldconfig -p | grep -q`: with pipefail, grep's early exit makes the pipe fail.)
has_vulkan() { local l; l=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null); [[ $l == *libvulkan.so.1* ]]; }
if ! has_vulkan; then
  for f in .gpu/*.deb .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" / && log "unpacked $f"; done
  ldconfig 2>/dev/null || true
fi
if has_vulkan; then
  check vulkan_loader ok '"libvulkan.so.1 found"'
else
  MISSING+=("libvulkan1 (no loader on this machine and no .gpu/*.deb: run --prepare where apt-get download works)")
  check vulkan_loader missing '"libvulkan.so.1 not found"'
fi
# The NVIDIA ICD sits outside the usual paths on the device machines (device README).
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$NV_ICD" ]; then export VK_DRIVER_FILES=$NV_ICD; fi

# 2. Deno and Dawn (npm webgpu).
DENO=""
for d in node_modules/.bin/deno "$(command -v deno 2>/dev/null)"; do
  [ -n "$d" ] && [ -x "$d" ] && "$d" --version >/dev/null 2>&1 && { DENO=$d; break; }
done
if [ -z "$DENO" ] && [ -f .gpu/deno.xz ]; then
  xz -dc .gpu/deno.xz >/tmp/webloco-deno && chmod +x /tmp/webloco-deno && DENO=/tmp/webloco-deno
fi
[ -n "$DENO" ] || MISSING+=("deno (node_modules/.bin/deno, deno on PATH or .gpu/deno.xz from --prepare)")
if [ ! -f node_modules/webgpu/package.json ] && [ -d .gpu/webgpu ]; then
  # node_modules arrives as a dangling link to the shared install: replace it with a folder.
  { [ -L node_modules ] && [ ! -e node_modules ] && rm node_modules; } || true
  mkdir -p node_modules && cp -r .gpu/webgpu node_modules/webgpu
fi
[ -f node_modules/webgpu/package.json ] || MISSING+=("npm webgpu (Dawn): node_modules/webgpu or .gpu/webgpu from --prepare")
if [ ${#MISSING[@]} -gt 0 ]; then
  for m in "${MISSING[@]}"; do log "missing: $m"; done
  write_results
  exit 2
fi
export WEBLOCO_GPU=dawn
# --no-check below: type-checking needs node_modules/@webgpu/types, which need not travel; the
# code was type-checked where it was written.
FAILED=0
run_timed() { # SECONDS OUTFILE CMD...: the command's output in OUTFILE and the log
  local limit=$1 out=$2; shift 2
  timeout "$limit" "$@" >"$out" 2>&1; local rc=$?
  cat "$out" >>"$LOG"
  return $rc
}

# 3. The kernel suite against the TypeScript references.
# Quick: the four matmul layouts of one odd shape (SwiftShader compiles each pipeline slowly).
FILTER=(); [ $QUICK = 1 ] && FILTER=(--filter "matmul matches reference on 1×300×7")
run_timed $([ $QUICK = 1 ] && echo 240 || echo 150) /tmp/gpu_check_kernels.txt \
  "$DENO" test -A --unstable-webgpu --no-check "${FILTER[@]}" test/kernels_test.ts
rc=$?
summary=$(sed 's/\x1b\[[0-9;]*m//g' /tmp/gpu_check_kernels.txt | grep -aE '^(ok|FAILED) \|' | tail -1)
if [ $rc = 0 ]; then check kernels ok "$(echo "$summary" | json_str)"; else
  FAILED=1; check kernels "failed (rc $rc)" "$(sed 's/\x1b\[[0-9;]*m//g' /tmp/gpu_check_kernels.txt | json_str)"; fi

# 4. Matmul GFLOP/s and % of the fp32 peak, buffer limits, which presets fit.
QFLAG=(); [ $QUICK = 1 ] && QFLAG=(--quick)
run_timed 120 /tmp/gpu_check_bench.txt "$DENO" run -A --unstable-webgpu --no-check scripts/gpu_check.ts "${QFLAG[@]}"
rc=$?
line=$(grep -a '^{' /tmp/gpu_check_bench.txt | tail -1)
if [ $rc = 0 ] && [ -n "$line" ]; then check matmul_bench ok "$line"; else
  FAILED=1; check matmul_bench "failed (rc $rc)" "$(json_str </tmp/gpu_check_bench.txt)"; fi

# 5. A short training run per preset (each alone, with its own time limit; refusals are
#    expected for presets past the adapter's limits and count as passed).
if [ $QUICK = 1 ]; then PRESET_LIST="tiny 1b"; STEPS=3; LIMIT=90; else
  PRESET_LIST="tiny base 20m 125m 1b"; STEPS=3; LIMIT=75; fi
for p in $PRESET_LIST; do
  run_timed $LIMIT /tmp/gpu_check_train.txt "$DENO" run -A --unstable-webgpu --no-check scripts/gpu_check.ts \
    --train "$p" --steps $STEPS --batch 4
  rc=$?
  line=$(grep -a '^{' /tmp/gpu_check_train.txt | tail -1)
  if [ $rc = 0 ] && [ -n "$line" ]; then
    if [[ $line == *'"refused"'* ]]; then check "train_$p" refused "$line"; else check "train_$p" ok "$line"; fi
  else
    FAILED=1; check "train_$p" "failed (rc $rc$([ $rc = 124 ] && echo ', past its time limit'))" "$(json_str </tmp/gpu_check_train.txt)"
  fi
done

write_results
exit $FAILED
