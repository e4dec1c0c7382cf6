cd /work/wt/tune
export PYTHONPATH=$PWD/src
/usr/bin/time -v /work/main/.venv/bin/python -m rest tune --methods reweight rest --density 0.1 --trials 6 --epochs 3 --seeds 41 42 43 --objective unbiased --workers 2 --out /tmp/tq2/tune-quick
