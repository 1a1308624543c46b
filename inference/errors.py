class ModelVersionError(Exception):
    """A model version that cannot be registered or activated; the message says why."""
