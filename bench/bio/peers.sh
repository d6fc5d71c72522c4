#!/usr/bin/env bash
# Peer fingerprint systems, run OUTSIDE the repo (their code is never committed), on the
# same FVC sets as our bench; their scores are turned into EER figures by OUR evaluation
# code (the bench binary reads them from $BIO_PEERS_DIR), so the figures are comparable.
#
#   bench/bio/peers.sh setup        # NBIS: pip-installs the nbis-python wheel into $PEERS/venv
#   bench/bio/peers.sh run OUT      # runs every peer found, writes OUT/*
#   bench/bio/peers.sh all          # setup + run + our bench in one go (the published run)
#
# NBIS (NIST, public domain): mindtct + bozorth3 through the `nbis-python` wheel from PyPI
# (MIT-licensed Rust/UniFFI bindings over NBIS 5.0; version 0.1.9, the newest whose
# binaries load on Debian 12: later wheels need glibc 2.38 or OpenCV 4.13). It needs
# Debian's libopencv-core406, libopencv-imgproc406 and libopencv-ml406.
#
# OpenAFIS (github.com/neilharan/openafis, BSD-2): there is no registry package, and this
# workplace forbids committing a script that builds a fetched copy of another project's
# source, so it is built by hand outside the repo (its own CMake files, Release) and this
# script only RUNS it: set OPENAFIS_CLI to its `openafis-cli` binary. Without it the
# OpenAFIS rows are skipped and say so.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=${PEERS:-/work/peers}
SHARED=${SALLYPORT_SHARED:-$HERE/../../../shared}
FP="$SHARED/data/fingerprints"
SETS=${BIO_SETS:-"FVC2002/DB1_B FVC2004/DB1_B"}
OPENAFIS_CLI=${OPENAFIS_CLI:-$PEERS/openafis-src/build/cli/openafis-cli}
# gallery size of the 1:N comparison: OpenAFIS loads the 160 ISO templates this many times
LOAD_FACTOR=${BIO_OPENAFIS_LOAD_FACTOR:-625}

setup() {
  if ! dpkg -s libopencv-core406 libopencv-imgproc406 libopencv-ml406 >/dev/null 2>&1; then
    apt-get install -y -qq libopencv-core406 libopencv-imgproc406 libopencv-ml406 >/dev/null
  fi
  [ -x "$PEERS/venv/bin/python" ] || python3 -m venv "$PEERS/venv"
  "$PEERS/venv/bin/pip" install -q "nbis-python==0.1.9"
  "$PEERS/venv/bin/python" -c "import nbis; print('nbis-python ok')"
}

run() {
  local out=$1
  mkdir -p "$out"
  for set in $SETS; do
    local tag=${set//\//-}
    echo "== NBIS mindtct+bozorth3 on $set (1 thread)"
    "$PEERS/venv/bin/python" "$HERE/nbis_scores.py" "$FP/$set" "$out/nbis-$tag.tsv"
  done
  if [ -x "$OPENAFIS_CLI" ]; then
    echo "== OpenAFIS 1:N on the ISO templates (load factor $LOAD_FACTOR)"
    # it prints paths relative to the working directory; run it from the template root
    (cd "$FP/templates-iso19794-2" && "$OPENAFIS_CLI" one-many --f1 FVC2002/DB1_B/101_2.iso \
        --load-factor "$LOAD_FACTOR" --path .) > "$out/openafis-one-many.txt" 2>&1
    grep -E "Loaded|Concurrency|Completed" "$out/openafis-one-many.txt" || true
    for set in $SETS; do
      local tag=${set//\//-} tmp
      tmp=$(mktemp -d)
      echo "== OpenAFIS many-many on the ISO templates of $set"
      (cd "$tmp" && "$OPENAFIS_CLI" many-many --path "$FP/templates-iso19794-2/$set") > "$out/openafis-many-$tag.txt" 2>&1
      # matrix CSV -> stem_a<TAB>stem_b<TAB>score for every pair i<j (row i as probe)
      python3 - "$tmp"/*.csv "$out/openafis-$tag.tsv" <<'PY'
import csv, os, sys
rows = list(csv.reader(open(sys.argv[1])))
ids = [os.path.splitext(os.path.basename(p))[0] for p in rows[0][1:]]
score = {}
for r in rows[1:]:
    a = os.path.splitext(os.path.basename(r[0]))[0]
    for b, s in zip(ids, r[1:]):
        score[(a, b)] = s
order = sorted(ids, key=lambda s: (s.rsplit('_', 1)[0], int(s.rsplit('_', 1)[1])))
with open(sys.argv[2], 'w') as f:
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            f.write(f"{a}\t{b}\t{score[(a, b)]}\n")
PY
      rm -rf "$tmp"
    done
  else
    echo "OpenAFIS: no binary at $OPENAFIS_CLI (set OPENAFIS_CLI); its rows are skipped" | tee "$out/openafis-missing.txt"
  fi
}

case "${1:-}" in
  setup) setup ;;
  run) run "${2:?usage: $0 run OUT}" ;;
  all)
    out=${2:-$PEERS/out}
    setup
    run "$out"
    cd "$HERE/../.."
    BIO_PEERS_DIR="$out" cargo bench -p sallyport-biometrics --bench bio
    ;;
  *) echo "usage: $0 setup | run OUT | all [OUT]" >&2; exit 2 ;;
esac
