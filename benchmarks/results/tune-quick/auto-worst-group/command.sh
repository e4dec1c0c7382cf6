cd /work/wt/tune
export PYTHONPATH=$PWD/src
/usr/bin/time -v /work/main/.venv/bin/python -m rest tune --methods reweight rest --density 0.1 --trials 6 --epochs 3 --seeds 41 42 43 --workers 2 --out /tmp/tq/tune-quick
