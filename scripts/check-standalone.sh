#!/usr/bin/env bash
# Fails when the repository reads anything outside itself: a fresh `git clone` must test,
# build and benchmark with nothing beside it. Prints every offending file:line.
#
#   scripts/check-standalone.sh               scan this repository
#   scripts/check-standalone.sh --self-test   first prove the scan catches a planted path, then scan
#   scripts/check-standalone.sh --root DIR    scan another tree (used by the self-test)
#
# What counts as a reference outside (on any line, comments included: a path in a comment
# is usually an instruction someone will follow):
#   ../shared           the sibling folder CI machines used to have
#   /work/...           an absolute path of one machine
#   $EG_ROOT/..         above the repository root
#   ../../x             more ../ than the file is deep (out of the tree; a shell script counts
#                       as at the root, since every one runs from there)
# The word "shared" in prose is fine. A line that must keep such a path (e.g. test data for
# path normalisation that happens to climb) can carry the marker `standalone-ok` with a reason.
# Scanned: scripts tests src bench crates benches fixtures fuzz .ci .cargo and the top-level files;
# not node_modules, target, build, .git, .work, fuzz/corpus, fuzz/artifacts, bench/results
# (reports of past runs record where things were then) and this script (it names the patterns).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SELF="scripts/check-standalone.sh"

# files_in ROOT: the files to scan, relative to ROOT, one per line
files_in() {
  local root=$1
  if [ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$root" && pwd -P)" ]; then
    # tracked and untracked-but-not-ignored: what a commit could carry
    git -C "$root" ls-files --cached --others --exclude-standard
  else
    (cd "$root" && find . -type f | sed 's|^\./||')
  fi | grep -E '^(scripts|tests|src|bench|crates|benches|fixtures|fuzz|\.ci|\.cargo)/|^[^/]+$' |
    grep -vE '(^|/)(node_modules|target|build|\.git|\.work)/|^fuzz/(corpus|artifacts)/|^bench/results/' |
    grep -vxF "$SELF" || true
}

# scan ROOT: prints "file:line: why: text" for every offending line; fails if there is one
scan() {
  local root=$1 found
  # shellcheck disable=SC2016 # awk, not shell
  found=$(cd "$root" && files_in "$root" | while IFS= read -r f; do
    # text files only (grep -I); the vectors and keys are data but cheap to read
    [ -f "$f" ] && grep -qI '' "$f" 2>/dev/null && printf '%s\n' "$f"
  done | tr '\n' '\0' | xargs -0 -r awk '
    # how deep a relative path may climb: a shell script runs from the root (every one cds
    # to $EG_ROOT), anything else is read relative to its own directory
    FNR == 1 { name = FILENAME; depth = (name ~ /\.sh$|^\.ci\//) ? 0 : gsub("/", "/", name) }
    /standalone-ok/ { next }
    function hit(why) { printf "%s:%d: %s: %s\n", FILENAME, FNR, why, substr($0, 1, 160) }
    {
      if ($0 ~ /\.\.\/shared([^A-Za-z0-9_-]|$)/) { hit("the sibling ../shared folder"); next }
      if ($0 ~ /(^|[^A-Za-z0-9_.~-])\/work\/[A-Za-z]/) { hit("an absolute path of one machine (/work/...)"); next }
      if ($0 ~ /\$\{?EG_ROOT\}?\/\.\.([^A-Za-z0-9_.-]|$)/) { hit("a path above the repository root ($EG_ROOT/..)"); next }
      # ../ chains that start a relative path (after a quote, space, = ( , : or the line start)
      rest = $0
      while (match(rest, /(^|["'"'"'` (=:,])(\.\.\/)+(\.\.)?/)) {
        chain = substr(rest, RSTART, RLENGTH)
        n = gsub(/\.\./, "..", chain)
        if (n > depth) { hit(sprintf("climbs %d directories up from a file %d deep, out of the repository", n, depth)); break }
        rest = substr(rest, RSTART + RLENGTH)
      }
    }
  ') || true
  [ -z "$found" ] && return 0
  printf '%s\n' "$found" >&2
  return 1
}

fix_hint() {
  eg_die "$1" \
    "Put what the line needs into the repository (test data under tests/, benchmark pieces under bench/)" \
    "and point at it from the repository root (\$EG_ROOT, CARGO_MANIFEST_DIR, the file's own directory)." \
    "Keep an override variable for other copies (like WYCHEPROOF_DIR), with the in-repo path as its default." \
    "A line that must keep such a path: add the marker standalone-ok with the reason."
}

TMP=""
trap '[ -z "$TMP" ] || rm -rf "$TMP"' EXIT
self_test() {
  local tmp
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/edgeguard-standalone.XXXXXX")
  tmp=$TMP
  mkdir -p "$tmp/scripts" "$tmp/tests/e2e/lib" "$tmp/bench/results" "$tmp/node_modules/x" "$tmp/src"
  # allowed: prose about sharing, paths inside the tree, excluded directories, the marker
  printf '%s\n' '// shared by the tests' 'import x from "../../../bench/host.mjs";' >"$tmp/tests/e2e/lib/ok.mjs"
  printf '%s\n' 'include_str!("../fixtures/a.json")' '("/../../x", "/x")' >"$tmp/src/ok.rs"
  printf '%s\n' 'PEER_DIR=../shared/peer' >"$tmp/bench/results/old.md"
  printf '%s\n' 'require("/work/shared/x")' >"$tmp/node_modules/x/index.js"
  printf '%s\n' 'cd ../../elsewhere # standalone-ok: planted' >"$tmp/scripts/marked.sh"
  scan "$tmp" 2>/dev/null || eg_die "self-test: a clean tree failed the scan" "Run: $0 --root $tmp"
  # each of these must be caught, alone
  local bad
  # shellcheck disable=SC2016 # the planted lines hold a literal $EG_ROOT
  for bad in 'v="$EG_ROOT/../shared/x"' 'cat /work/shared/peer/a.js' 'd="$EG_ROOT/../other"' 'x=../sibling/y'; do
    printf '%s\n' "$bad" >"$tmp/scripts/bad.sh"
    if scan "$tmp" 2>/dev/null; then eg_die "self-test: the scan missed: $bad" "Fix the patterns in $SELF."; fi
    [ "$(scan "$tmp" 2>&1 | cut -d: -f1,2 | sort -u)" = "scripts/bad.sh:1" ] ||
      eg_die "self-test: the scan flagged more than scripts/bad.sh for: $bad" "Run: $0 --root $tmp"
  done
  # the same through git's file list (the mode a checkout uses): an untracked file counts too
  git -C "$tmp" init -q
  printf '%s\n' '../shared/x' >"$tmp/scripts/bad.sh"
  if scan "$tmp" 2>/dev/null; then eg_die "self-test: the scan missed an untracked file in a git tree"; fi
  rm "$tmp/scripts/bad.sh"
  scan "$tmp" 2>/dev/null || eg_die "self-test: a clean git tree failed the scan" "Run: $0 --root $tmp"
  eg_log "standalone self-test: planted references caught, allowed ones passed"
}

root="$EG_ROOT"
case "${1:-}" in
  "") ;;
  --self-test) self_test ;;
  --root) root=$(cd "${2:?--root needs a directory}" && pwd) ;;
  *) eg_die "unknown argument '$1'" "Usage: $SELF [--self-test | --root DIR]" ;;
esac
scan "$root" || fix_hint "files above read outside the repository ($root); a fresh clone has nothing beside it"
eg_log "standalone: nothing under $root refers outside it"
