from tests.scouts.support import lmstudio

__all__ = ["lmstudio"]
