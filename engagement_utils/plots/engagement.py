"""engagement charts."""

__all__: list[str] = []
