"""Benchmarks of the assistant's components (run `python -m bot.bench.nlu --help`)."""
