"""What keeps an uploaded lm-eval task from running code in the worker.

lm-eval renders ``doc_to_text``, ``doc_to_target``, ``doc_to_choice`` and friends with a plain
``jinja2.Environment`` (``lm_eval.utils.env``): a template can reach Python objects through
attributes (``{{ cycler.__init__.__globals__ }}``) and run anything. ``harden_lm_eval`` swaps in
Jinja's ``ImmutableSandboxedEnvironment`` with the same settings and filter, which renders every
built-in task's template the same way but refuses private attributes and unsafe calls.

lm-eval's bootstrap of standard errors forks a ``multiprocessing.Pool`` (Celery's worker
processes are daemonic and may not have children, and the pool pickles the per-sample values):
``DISABLE_MULTIPROC`` makes it compute them in-process.

``template_problem`` checks a template at upload time, so a bundle is refused before it runs.
"""

from __future__ import annotations

import os

import jinja2
from jinja2 import BaseLoader, StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


def sandboxed_environment() -> ImmutableSandboxedEnvironment:
    """The environment lm-eval renders task templates with, sandboxed."""
    from lm_eval import utils as lm_utils

    env = ImmutableSandboxedEnvironment(
        loader=BaseLoader(), undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.filters["regex_replace"] = lm_utils.regex_replace
    return env


def harden_lm_eval() -> None:
    """Sandbox lm-eval's template rendering and keep its statistics in this process.
    Idempotent; meant for the processes that run uploaded tasks (the evaluation worker)."""
    from lm_eval import utils as lm_utils

    if not isinstance(lm_utils.env, ImmutableSandboxedEnvironment):
        lm_utils.env = sandboxed_environment()
    os.environ["DISABLE_MULTIPROC"] = "1"


_PARSER = ImmutableSandboxedEnvironment(loader=BaseLoader(), undefined=StrictUndefined)


def template_problem(template: str) -> str | None:
    """Why ``template`` may not be used (a syntax error, or a reach for a private attribute
    such as ``__class__``), or None when it may."""
    try:
        tree = _PARSER.parse(template)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message}"
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        name = _reached_name(node)
        if name is not None and name.startswith("_"):
            return f"templates may not reach private attributes ({name!r})"
    return None


def _reached_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        value = node.arg.value
        return value if isinstance(value, str) else None
    return None
