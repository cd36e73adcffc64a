from tests.llm.support import deepseek, journal, lmstudio

__all__ = ["deepseek", "journal", "lmstudio"]
