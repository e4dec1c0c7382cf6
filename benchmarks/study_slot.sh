#!/usr/bin/env bash
# One short slot of the study (issue 12) on a machine that is handed back afterwards.
#
#   bash benchmarks/study_slot.sh SECONDS RUNS BUNDLE [study.py options...]
#
# Trains a part of the grid into RUNS for at most SECONDS (then stops the runs as Ctrl-C
# would), and packs the small files of every finished run -- config.json, summary.json,
# metrics.jsonl, log.txt, and each dataset's failures.jsonl; no checkpoints; with --tune,
# also each search's tune.json, journal.log, selected.json and finished trials -- into BUNDLE,
# one .tar.gz: what a bare GPU machine that hands back a few small files can return. The
# study's options follow; the defaults are `--budget gpu --device cuda --workers 8`.
# No install is needed: src/ and benchmarks/ are put on PYTHONPATH; $PYTHON (default
# python3) must hold torch, numpy, pillow, scipy, tqdm and matplotlib.
#
# A machine without Debian's Fashion-MNIST package reads it from a folder of its IDX files
# carried along (`--source DIR`; cfmnist and corrupted only, cmnist needs no source).
# Back on this machine:
#
#   tar -xzf BUNDLE -C RUNS          # a later slot given RUNS skips the finished runs
#   python benchmarks/study.py --budget gpu --report-only --runs RUNS
set -uo pipefail

usage="usage: bash benchmarks/study_slot.sh SECONDS RUNS BUNDLE [study.py options...]"
if [ $# -lt 3 ]; then
    echo "study_slot: error: $usage" >&2
    exit 2
fi
seconds=$1 runs=$2 bundle=$3
shift 3
case $seconds in
'' | *[!0-9]* | 0)
    echo "study_slot: error: SECONDS must be a positive whole number, got '$seconds'" >&2
    exit 2
    ;;
esac
case $bundle in
*.tar.gz) ;;
*)
    echo "study_slot: error: BUNDLE must end in .tar.gz, got '$bundle'" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
export PYTHONPATH="$root/src:$root/benchmarks${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

started=$(date +%s)
# SIGINT reaches the study and its workers (timeout signals its whole process group), so
# each run stops as under Ctrl-C; -k: a run that ignores it is killed a minute later.
timeout -s INT -k 60 "$seconds" "$python" "$root/benchmarks/study.py" \
    --budget gpu --device cuda --workers 8 "$@" --runs "$runs"
status=$?
elapsed=$(($(date +%s) - started))
case $status in
0) echo "study_slot: the selected part finished in ${elapsed} s" ;;
124 | 137) echo "study_slot: stopped at the ${seconds} s deadline; the next slot continues" ;;
*) echo "study_slot: the study exited with status $status after ${elapsed} s" >&2 ;;
esac

# Pack the finished runs (those with a summary.json), paths relative to RUNS.
list=$(mktemp)
trap 'rm -f "$list" "$bundle.part"' EXIT
if [ -d "$runs" ]; then
    (
        cd "$runs" || exit 1
        {
            find . -mindepth 4 -maxdepth 4 -name summary.json
            find . -mindepth 6 -maxdepth 6 -path './tune/*/trials/*' -name summary.json
        } | sort | while read -r summary; do
            run=$(dirname "$summary")
            for name in config.json summary.json metrics.jsonl log.txt; do
                [ -f "$run/$name" ] && echo "$run/$name"
            done
        done
        find . -mindepth 3 -maxdepth 3 -name failures.jsonl | sort
        # --tune's searches: the Optuna journal a later slot continues, and the choices
        find . -mindepth 3 -maxdepth 3 -path './tune/*' \
            \( -name tune.json -o -name journal.log -o -name selected.json \) | sort
    ) >"$list" || exit 1
fi
mkdir -p "$(dirname "$bundle")" || exit 1
if [ -s "$list" ]; then
    tar -czf "$bundle.part" -C "$runs" -T "$list"
else
    tar -czf "$bundle.part" -T /dev/null
fi || {
    echo "study_slot: error: cannot write $bundle" >&2
    exit 1
}
mv "$bundle.part" "$bundle"
finished=$(grep -v '^./tune/' "$list" | grep -c '/summary.json$')
trials=$(grep '^./tune/' "$list" | grep -c '/summary.json$')
echo "study_slot: $finished finished run(s) and $trials finished trial(s) packed into $bundle" \
    "($(du -k "$bundle" | cut -f1) KiB)"
case $status in
0 | 124 | 137) exit 0 ;;
*) exit "$status" ;;
esac
