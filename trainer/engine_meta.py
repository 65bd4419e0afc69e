"""Facts about the engine the web layer needs without importing torch."""

METHOD_CHOICES = ["lora", "dora", "qlora", "full", "freeze", "from_scratch"]
