"""Benchmarks: GenEval, T2I-CompBench and VQA-style evaluation."""
