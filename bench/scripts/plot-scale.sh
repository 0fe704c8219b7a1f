#!/usr/bin/env bash
# Plots a scale-bench table (bench/scripts/scale-bench.ps1 writes out/bench/scale-bench-*.tsv) as docs/scale.png:
# time against N for Deploy -> all ready, the bare-QEMU baseline, Test-VirtualNetwork and Remove (median of the runs),
# on log-log axes so a linear law is a line of slope 1. Installs gnuplot-nox with apt-get when it is missing.
#   bench/scripts/plot-scale.sh [TABLE.tsv] [OUT.png]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
table=${1:-$(ls -t out/bench/scale-bench-*.tsv | head -n 1)}
out=${2:-docs/scale.png}
if ! command -v gnuplot >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null
fi
medians=$(mktemp)
trap 'rm -f "$medians"' EXIT
# Median per N of each column (NA skipped): n baseline deploy test remove
awk -F'\t' 'NR > 1 {
	n[$1] = 1
	if ($3 != "NA") b[$1] = b[$1] " " $3
	if ($4 != "NA") d[$1] = d[$1] " " $4
	if ($6 != "NA") t[$1] = t[$1] " " $6
	if ($9 != "NA") r[$1] = r[$1] " " $9
}
function med(s,   a, k, i, j, x) {
	k = split(s, a, " ")
	if (k == 0) return "NaN"
	for (i = 2; i <= k; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] + 0 > x + 0) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END { for (k in n) print k, med(b[k]), med(d[k]), med(t[k]), med(r[k]) }' "$table" | sort -n > "$medians"
gnuplot <<GP
set terminal pngcairo size 900,600 font ",11"
set output "$out"
set title "VirtualNetworks on one host (2 cores, TCG): N routers in a ring"
set xlabel "routers (N)"
set ylabel "seconds"
set logscale xy 2
set key top left
set grid
plot "$medians" using 1:3 with linespoints title "Deploy -> every guest ready", \
     "$medians" using 1:2 with linespoints title "bare QEMU baseline (same image, started at once)", \
     "$medians" using 1:4 with linespoints title "Test-VirtualNetwork", \
     "$medians" using 1:5 with linespoints title "Remove-VirtualNetwork"
GP
echo "wrote $out from $table"
