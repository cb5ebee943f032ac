#!/usr/bin/env bash
# Download, as CPython 3.12 manylinux x86-64 wheels, the runtime dependencies the GPU
# machine's image lacks, into .whl/ (git-ignored) so they can be carried to it and installed
# there with no registry: `pip install --no-index --no-deps --target /tmp/site .whl/*.whl`
# (scripts/device-check.sh does that when it finds .whl/).
#
# The image already has torch, numpy, scipy, pandas, pyarrow, matplotlib, jinja2,
# hypothesis, tqdm, threadpoolctl, attrs, typing-extensions, joblib and setuptools
# (the device docs' package list). Versions are the ones this project is tested with. scs
# (43 MB) is left out: `import cvxpy` does not need it and our LPs use HiGHS / Clarabel.
# Each wheel's Requires-Dist is checked below against this list plus the image's packages,
# so a new requirement fails here, not on the device.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-.whl}"
WHEELS=(
    cvxpy==1.9.3 osqp==1.1.3 qdldl==0.1.9.post1 "sparsediffpy==0.6.1" clarabel==0.11.1
    cffi==2.0.0 pycparser==3.0
    highspy==1.16.0 python-flint==0.9.0
    jsonschema==4.26.0 referencing==0.37.0 rpds-py==0.30.0 jsonschema-specifications==2025.9.1
    array-api-compat==1.16.0
)
# what the image has (lower-case, '-' for '_'); a Requires-Dist outside WHEELS and this
# list fails the script
IMAGE="torch numpy scipy pandas pyarrow matplotlib jinja2 hypothesis tqdm threadpoolctl attrs
typing-extensions joblib setuptools packaging"
mkdir -p "$DEST"
PLAT=()
for p in manylinux_2_39_x86_64 manylinux_2_35_x86_64 manylinux_2_34_x86_64 \
    manylinux_2_31_x86_64 manylinux_2_28_x86_64 manylinux_2_27_x86_64 \
    manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    PLAT+=(--platform "$p")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${PLAT[@]}" -d "$DEST" "${WHEELS[@]}"
# one version of each (two stop the install there)
dups=$(ls "$DEST"/*.whl | xargs -n1 basename | cut -d- -f1 | tr 'A-Z' 'a-z' | sort | uniq -d)
[ -z "$dups" ] || { echo "fetch-device-wheels: several versions of: $dups (empty $DEST)" >&2; exit 1; }
known=" $IMAGE "
for w in "${WHEELS[@]}"; do known+=" ${w%%==*} "; done
known=$(echo "$known" | tr "A-Z_\n" "a-z- ")
missing=""
for f in "$DEST"/*.whl; do
    while read -r req; do
        name=$(echo "$req" | sed -E 's/^Requires-Dist: *([A-Za-z0-9_.-]+).*/\1/' | tr 'A-Z_.' 'a-z--')
        case " $known " in *" $name "*) ;; *) missing+=" $name($(basename "$f"))" ;; esac
    done < <(unzip -p "$f" '*.dist-info/METADATA' | grep '^Requires-Dist' | grep -v 'extra ==' || true)
done
# scs is cvxpy's declared need but optional at import time (see above)
missing=$(echo "$missing" | tr ' ' '\n' | grep -v '^scs(' | grep . || true)
if [ -n "$missing" ]; then
    echo "fetch-device-wheels: requirements neither carried nor on the image: $missing" >&2
    exit 1
fi
du -ch "$DEST"/*.whl | tail -1 | sed "s|total|in $DEST (limit with the code: 64 MiB)|"
