#!/usr/bin/env bash
# Installs the build into a temporary prefix and runs the main job's steps with the installed `vyolo` from an empty
# folder: no source tree, no conf/ of its own. Checks that the config search path is the installed tree plus the
# folder's own ./conf, that `vyolo split` wrote the folds there (not into the installed tree) and refuses to replace
# them with other content, and that training and prediction ran. Usage: installed_job.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vyolo_install_XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$TMP/prefix" > "$TMP/install.log"
V="$TMP/prefix/bin/vyolo"
[ -x "$V" ] || fail "no installed vyolo"
[ -f "$TMP/prefix/share/vyolo/conf/config.yaml" ] || fail "no installed config tree"
ls "$TMP"/prefix/share/doc/*/README.md > /dev/null || fail "no README installed"
before=$(cd "$TMP/prefix/share/vyolo/conf" && find . -type f | sort | xargs md5sum)

mkdir "$TMP/project" && cd "$TMP/project"
# The search path: nothing but the installed tree here (no ./conf yet, no source tree).
"$V" train --help > help.txt
grep -q "$TMP/prefix/share/vyolo/conf" help.txt || fail "installed tree not in the search path: $(head -8 help.txt)"
sed -n '/^== Config search path/,/^$/p' help.txt | grep -q "conf" || fail "no search path in --help"
if sed -n '/^== Config search path/,/^$/p' help.txt | grep -v "$TMP" | grep -q "/conf"; then fail "a directory outside the prefix is searched"; fi

"$V" synth out=phantom cases=4 vertebrae=3 seed=1
"$V" prepare source=phantom out=dataset image_size=64 max_negatives=1 workers=1
"$V" split data=dataset folds=2 seed=1
[ -f conf/split/fold_0.yaml ] && [ -f conf/split/fold_1.yaml ] || fail "folds not in ./conf/split"
after=$(cd "$TMP/prefix/share/vyolo/conf" && find . -type f | sort | xargs md5sum)
[ "$before" = "$after" ] || fail "the installed config tree changed"
# Another split into the same folder: refused (other patients), nothing changed; overwrite=true replaces.
cp conf/split/fold_0.yaml fold_0.before
if "$V" split data=dataset folds=2 seed=2 2> split2.err; then fail "split replaced existing folds without overwrite=true"; fi
grep -q "overwrite=true" split2.err || fail "no hint in: $(cat split2.err)"
cmp -s fold_0.before conf/split/fold_0.yaml || fail "a refused split changed fold_0.yaml"
"$V" split data=dataset folds=2 seed=1  # the same folds again: nothing to refuse

"$V" train split=fold_1 data.data_dir=dataset data.image_size=64 model.img_size=64 training.epochs=1 \
  data.batch_size=4 data.num_workers=1 logging.log_dir=runs logging.experiment_name=t > train.log
RUN=runs/t/fold_1
[ -f "$RUN/weights/last.safetensors" ] || fail "no checkpoint; log: $(tail -5 train.log)"
[ -f "$RUN/results.csv" ] || fail "no results.csv"
grep -q "fold_id: 1" "$RUN/.hydra/config.yaml" || fail "fold_1 of ./conf/split not used"
CASE=$(ls phantom | head -1)
"$V" predict weights="$RUN/weights/last.safetensors" source="phantom/$CASE/ct.nii.gz" \
  mask="phantom/$CASE/vertebrae.nii.gz" project=out name=p conf=0.01 > predict.log
[ -f out/p/findings.json ] || fail "no findings.json; log: $(tail -3 predict.log)"
echo "installed job OK: $(grep -c . conf/split/fold_1.yaml) lines in fold_1.yaml, $(wc -l < "$RUN/results.csv") results.csv lines"
