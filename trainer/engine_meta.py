"""Facts about the engine the web layer needs without importing torch: the training methods and
objectives, read from the engine's registry (`trainer.engine.registry`, the one list)."""

from trainer.engine import registry

METHOD_CHOICES = list(registry.method_names())
OBJECTIVE_CHOICES = list(registry.objective_names())
