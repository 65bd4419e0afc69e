"""lm-evaluation-harness inside the platform, without Django and without the network.

* ``bundle.read_bundle``: an uploaded zip of task YAML and data, checked and read in memory.
* ``tasks.task_from_records``: a task from a dataset's test split.
* ``lm.PlatformLM``: lm-eval's ``LM`` over a model loaded as ``serving`` loads it.
* ``run.run_tasks`` / ``run.compare``: metrics with standard errors, and forgetting flags.
* ``sandbox``: what keeps uploaded tasks from running code.

Modules are imported one by one: ``bundle`` and ``task_config`` load no PyTorch.
"""
