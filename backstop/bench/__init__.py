"""Benchmarks: gas per operation, ADL and standing-bid scaling, replay speed, and the results file."""
