"""The AzureML SDK v2 backend (``azure-ai-ml``). Importing this package imports no SDK.

Modules:

* :mod:`.spec` -- a plain description of a v2 pipeline job (nodes, inputs, outputs,
  compute, ordering), its validation against v2's rules, and its canonical view;
  no SDK, so ``azml plan --target azureml-v2`` stays fast;
* :mod:`.translate` -- the plan as a spec, and what v2 cannot express (no SDK);
* :mod:`.parallel` -- a ParallelRunStep as a ``parallel`` node (plain values, its
  checks and views; the SDK node is built inside a function);
* :mod:`.build` -- the ``azure.ai.ml`` PipelineJob for a spec, and the same canonical
  view of any PipelineJob (built, or loaded from YAML);
* :mod:`.yaml_io` -- the job as YAML for ``az ml job create``, and back;
* :mod:`.workspace` -- ``MLClient`` from ``.azureml/config.json`` and azml's auth settings;
* :mod:`.jobs` -- submit, follow, status, cancel and logs of pipeline jobs.

Only this package imports ``azure.ai.ml``, always inside functions.
"""
