"""A local ParallelRunStep driver: AzureML's batch-inference contract on one machine.

``driver.py`` in this folder is run by path with the step's own interpreter (see
docs/parallel.md for its command line). It starts worker processes that each
import the step's entry script, call ``init()`` once and ``run(mini_batch)`` for
every mini-batch they are given, and it handles retries, timeouts, the error
threshold, ``parallel_run_step.txt`` and the logs as AzureML's driver does.

Standard library only (pandas is imported by a worker only for tabular input);
nothing here imports azml outside ``azml.runtime``.
"""
