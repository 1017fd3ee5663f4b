"""`make chaos`: the platform under load while each of its components is SIGKILLed in turn."""
