#!/usr/bin/env bash
# Summary of bench/learn_realdata.sh runs: OUT SEED... -> markdown. Per tool and seed: final and best mAP50 /
# mAP50-95 (results.csv), median seconds per epoch for training and for the rest (epoch_times.tsv: epoch, train s,
# rest s; the first epoch excluded); then the per-epoch mAP50 curves side by side.
set -euo pipefail
OUT=$1; shift
col() {  # results.csv column NAME -> values, one per line
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) { h = $i; gsub(/ /, "", h); if (h == name) c = i } next }
                         c { v = $c; gsub(/ /, "", v); print v }' "$1"
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
echo "| tool | seed | epochs | final mAP50 | final mAP50-95 | best mAP50 | best mAP50-95 | train s/epoch | rest s/epoch |"
echo "|---|---|---|---|---|---|---|---|---|"
for tool in ultralytics vyolo; do
  for s in "$@"; do
    d="$OUT/${tool}_seed$s"; [ -f "$d/results.csv" ] || continue
    m50=$(col "$d/results.csv" "metrics/mAP50(B)"); m95=$(col "$d/results.csv" "metrics/mAP50-95(B)")
    n=$(echo "$m50" | grep -c .)
    tr=nan; rs=nan  # a run still going has no epoch_times.tsv yet
    if [ -f "$d/epoch_times.tsv" ]; then
      tr=$(awk -F'\t' 'NR > 1 { print $2 }' "$d/epoch_times.tsv" | median)
      rs=$(awk -F'\t' 'NR > 1 { print $3 }' "$d/epoch_times.tsv" | median)
    fi
    printf "| %s | %s | %s | %.4f | %.4f | %.4f | %.4f | %.2f | %.2f |\n" "$tool" "$s" "$n" "$(echo "$m50" | tail -1)" \
      "$(echo "$m95" | tail -1)" "$(echo "$m50" | sort -g | tail -1)" "$(echo "$m95" | sort -g | tail -1)" "$tr" "$rs"
  done
done | tee "$OUT/.rows"
# Means over the seeds per tool, and vyolo's time per epoch (train + rest) as a fraction of Ultralytics'.
echo
awk -F'|' '{ t = $2; gsub(/ /, "", t); n[t]++; m50[t] += $5; m95[t] += $6; sec[t] += $9 + $10 }
  END { for (t in n) printf "mean %s over %d seeds: final mAP50 %.4f, mAP50-95 %.4f, %.2f s per epoch\n", t, n[t],
                              m50[t] / n[t], m95[t] / n[t], sec[t] / n[t]
        if (n["ultralytics"] && n["vyolo"])
          printf "vyolo epoch time / Ultralytics: %.3f\n", (sec["vyolo"] / n["vyolo"]) / (sec["ultralytics"] / n["ultralytics"]) }' \
  "$OUT/.rows" | sort
rm -f "$OUT/.rows"
echo
echo "Per-epoch mAP50 (columns: tool_seed):"
hdr="epoch"; files=()
for tool in ultralytics vyolo; do for s in "$@"; do
  d="$OUT/${tool}_seed$s"; [ -f "$d/results.csv" ] || continue
  hdr="$hdr ${tool}_$s"; col "$d/results.csv" "metrics/mAP50(B)" > "$OUT/.curve_${tool}_$s"; files+=("$OUT/.curve_${tool}_$s")
done; done
echo "$hdr"
[ ${#files[@]} -gt 0 ] && paste "${files[@]}" | awk '{ printf "%d", NR; for (i = 1; i <= NF; i++) printf " %.3f", $i; print "" }'
rm -f "$OUT"/.curve_*
