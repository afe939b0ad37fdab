#!/usr/bin/env bash
# Installs or checks everything webloco needs on a Debian machine with Node 20 and npm:
# npm packages (Deno, Dawn, Vite, Playwright), libvulkan1 (Dawn's Vulkan loader) and
# chromium (SwiftShader for GPU-less machines, and the browser tests). Nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "setup: error: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (need Node 20 or newer)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "Node $(node --version) is too old (need 20 or newer)"

missing=()
{ [ -x /usr/bin/chromium ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; } || missing+=(chromium)
{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | grep -q 'libvulkan\.so\.1' || missing+=(libvulkan1)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    fail "missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}"
  fi
  echo "setup: installing ${missing[*]} from Debian (apt-get)"
  $sudo apt-get update -qq >/dev/null 2>&1 || echo "setup: apt-get update failed; trying the install anyway"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "apt-get install ${missing[*]} failed; install them by hand and run again"
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -x node_modules/.bin/deno ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  # npm ci is exact; some npm versions reject a lock file that lacks other platforms' optional
  # packages (deno's), and then npm install (still pinned by package.json) does the job.
  npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
    npm install --no-audit --no-fund --loglevel=error >/dev/null ||
    fail "npm install failed (is the npm registry reachable?)"
fi
node_modules/.bin/deno --version >/dev/null 2>&1 || fail "node_modules/.bin/deno does not run; delete node_modules and run again"
