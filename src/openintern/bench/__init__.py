"""`intern bench`: independent, offline evaluation of the agent itself.

Bundled tasks with hidden answers (``tasks/``, built by ``task.py``), the runner that
plays the ordinary CLI on each (``runner.py``), the host-side grader (``grader.py``),
claimed-vs-real integrity (``integrity.py``), the scripted floor (``floor.py``), the
MLE-bench adapter (``mlebench.py``), reports (``report.py``) and the command
(``commands.py``). Kept import-light: nothing heavy is imported here.
"""
