"""Benchmarks: gas per operation (gas), ADL and standing-bid scaling (adl, bids), replay speed (speed), the
results file (results), every benchmark in one run (run: what `backstop bench` calls), and the web3 twins of
an Ape-deployed system that they drive (twins)."""
