class GameError(Exception):
    """A request the rules refuse. Consumers turn it into one uniform `error` message."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.message = message
        self.code = code
