#!/bin/sh
# Fills corpus/<target>/ with seed inputs for the fuzz targets, copied at run time from
# the shared fixtures (../shared/data; nothing of it is committed: corpus/ is ignored).
# Usage: fuzz-bio/seed.sh [shared-dir]   (default: $SALLYPORT_SHARED or ../../shared)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
shared=${1:-${SALLYPORT_SHARED:-$here/../../shared}}
f=$shared/data/formats
[ -d "$f" ] || { echo "no fixtures at $f" >&2; exit 1; }
mkdir -p "$here/corpus/wsq" "$here/corpus/iso19794_2" "$here/corpus/ansi_nist" "$here/corpus/roundtrip"
# WSQ: the smallest real file (256x256) and self-made small streams; the real fingerprints
# (500x500 and up) take seconds each under the fuzzer's instrumentation and would drown it
# (tests/wsq_reference.rs decodes them all)
cp "$f/nist-libbiomeval/src/test/test_data/img.wsq" "$here/corpus/wsq/"
python3 "$here/gen_wsq_seeds.py" "$here/corpus/wsq" "$f/nist-libbiomeval/src/test/test_data/img.wsq"
for p in "$f"/nist-libbiomeval/src/test/test_data/fmr.* "$f"/sourceafis-test-images/src/test/resources/com/machinezoo/sourceafis/iso-*.dat; do
    cp "$p" "$here/corpus/iso19794_2/"
done
# a few published ISO templates (10 of the 160)
for p in "$shared"/data/fingerprints/templates-iso19794-2/FVC2002/DB1_B/10?_1.iso; do
    cp "$p" "$here/corpus/iso19794_2/"
done
find "$f" \( -name '*.an2' -o -name '*.an2k' \) -size -80k -exec cp {} "$here/corpus/ansi_nist/" \;
cp "$here"/corpus/iso19794_2/* "$here"/corpus/ansi_nist/* "$here/corpus/roundtrip/"
for t in wsq iso19794_2 ansi_nist roundtrip; do
    echo "$t: $(ls "$here/corpus/$t" | wc -l) seeds"
done
